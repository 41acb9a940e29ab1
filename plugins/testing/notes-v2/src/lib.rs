//! Test component: plugin `notes` at version 2.0.0 (see the `notes` crate).

notes::version!(
    Notes,
    "2.0.0",
    notes::Shape {
        token: true,
        tag: true
    }
);
