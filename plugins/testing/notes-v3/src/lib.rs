//! Test component: plugin `notes` at version 3.0.0 (see the `notes` crate).

notes::version!(
    Notes,
    "3.0.0",
    notes::Shape {
        token: false,
        tag: true
    }
);
