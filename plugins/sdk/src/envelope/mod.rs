//! Each API area's wire envelope (see DESIGN.md, "Wire compatibility").
//!
//! | area  | success                          | failure                                  |
//! |-------|----------------------------------|------------------------------------------|
//! | Alaya | `{status: 200, message, data}`   | `{status: <http>, message, data: {}}`    |
//! | IEF   | plain JSON body                  | `{error_code: "IEF.xxxxxx", error_msg}`  |
//! | pcapi | `{status: true, info, data}`     | `{status: false, info, data}`            |
//! | kboss | `{status: true, msg, data}`      | `{status: false, msg}`                   |
//!
//! kboss lists answer `data: {total, rows}` where each row carries
//! `row_num_`, its 1-based position across pages ([`kboss::page`]).

pub mod alaya;
pub mod ief;
pub mod kboss;
pub mod pcapi;
