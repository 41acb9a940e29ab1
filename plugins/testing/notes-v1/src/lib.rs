//! Test component: plugin `notes` at version 1.0.0 (see the `notes` crate).

notes::version!(
    Notes,
    "1.0.0",
    notes::Shape {
        token: true,
        tag: false
    }
);
