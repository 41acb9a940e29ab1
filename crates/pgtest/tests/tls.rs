//! The TLS server: libpq verifies its certificate against the test CA and
//! the connection is encrypted; a plain connection is still accepted.

#[test]
fn tls_server_is_verified_by_its_ca_and_plain_still_connects() {
    let s = pgtest::tls_server();
    let tls = s.tls.as_ref().expect("tls_server has TLS files");
    let url = pgtest::tls_database();
    let name = url.rsplit('/').next().unwrap();
    let ssl = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";
    let verified = format!(
        "dbname={name} sslmode=verify-full sslrootcert={}",
        tls.ca_file.display()
    );
    assert_eq!(s.psql(&verified, ssl), "t");
    assert_eq!(s.psql(&format!("dbname={name} sslmode=disable"), ssl), "f");
    // The plain server is another one, without TLS.
    assert!(pgtest::server().tls.is_none());
    assert_ne!(pgtest::server().port, s.port);
}
