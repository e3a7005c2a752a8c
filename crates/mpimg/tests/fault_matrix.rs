//! The fault matrix: every operation that writes to a device, cut off at 9
//! points spread over its bytes (the port closed, as when a cable is pulled)
//! and hit by a corrupted, dropped or stalled frame; each cell checks that
//! the board still starts (or the message says it may not) and that the
//! same command run again ends where an uninterrupted run ends, with no
//! user file lost. See `util::matrix`; `scripts/fault-matrix.sh` prints the
//! cells as a table.

use crate::util::matrix::{cell, Cut, Op};

macro_rules! row {
    ($row:ident, $op:ident, $($name:ident => $cut:expr),* $(,)?) => {
        mod $row {
            use super::*;
            $(
                #[test]
                fn $name() {
                    cell(Op::$op, $cut, stringify!($name));
                }
            )*
        }
    };
}

row!(
    table_f,
    TableF,
    close_0 => Cut::Close(0),
    close_1 => Cut::Close(1),
    close_2 => Cut::Close(2),
    close_3 => Cut::Close(3),
    close_4 => Cut::Close(4),
    close_5 => Cut::Close(5),
    close_6 => Cut::Close(6),
    close_7 => Cut::Close(7),
    close_8 => Cut::Close(8),
    corrupt_mid => Cut::Corrupt(50),
);

row!(
    table_move,
    TableMove,
    close_0 => Cut::Close(0),
    close_1 => Cut::Close(1),
    close_2 => Cut::Close(2),
    close_3 => Cut::Close(3),
    close_4 => Cut::Close(4),
    close_5 => Cut::Close(5),
    close_6 => Cut::Close(6),
    close_7 => Cut::Close(7),
    close_8 => Cut::Close(8),
    corrupt_mid => Cut::Corrupt(50),
);

row!(
    fs_put,
    FsPut,
    close_0 => Cut::Close(0),
    close_1 => Cut::Close(1),
    close_2 => Cut::Close(2),
    close_3 => Cut::Close(3),
    close_4 => Cut::Close(4),
    close_5 => Cut::Close(5),
    close_6 => Cut::Close(6),
    close_7 => Cut::Close(7),
    close_8 => Cut::Close(8),
    corrupt_mid => Cut::Corrupt(50),
    drop_last => Cut::Drop(100),
);

row!(
    fs_mkfs,
    FsMkfs,
    close_0 => Cut::Close(0),
    close_1 => Cut::Close(1),
    close_2 => Cut::Close(2),
    close_3 => Cut::Close(3),
    close_4 => Cut::Close(4),
    close_5 => Cut::Close(5),
    close_6 => Cut::Close(6),
    close_7 => Cut::Close(7),
    close_8 => Cut::Close(8),
    corrupt_mid => Cut::Corrupt(50),
);

row!(
    ota_update,
    OtaUpdate,
    close_0 => Cut::Close(0),
    close_1 => Cut::Close(1),
    close_2 => Cut::Close(2),
    close_3 => Cut::Close(3),
    close_4 => Cut::Close(4),
    close_5 => Cut::Close(5),
    close_6 => Cut::Close(6),
    close_7 => Cut::Close(7),
    close_8 => Cut::Close(8),
    corrupt_mid => Cut::Corrupt(50),
    stall_last => Cut::Stall(100, 4000),
);

row!(
    flash_blank,
    FlashBlank,
    close_0 => Cut::Close(0),
    close_1 => Cut::Close(1),
    close_2 => Cut::Close(2),
    close_3 => Cut::Close(3),
    close_4 => Cut::Close(4),
    close_5 => Cut::Close(5),
    close_6 => Cut::Close(6),
    close_7 => Cut::Close(7),
    close_8 => Cut::Close(8),
    corrupt_first => Cut::Corrupt(0),
);

row!(
    flash_used,
    FlashUsed,
    close_0 => Cut::Close(0),
    close_1 => Cut::Close(1),
    close_2 => Cut::Close(2),
    close_3 => Cut::Close(3),
    close_4 => Cut::Close(4),
    close_5 => Cut::Close(5),
    close_6 => Cut::Close(6),
    close_7 => Cut::Close(7),
    close_8 => Cut::Close(8),
    corrupt_mid => Cut::Corrupt(50),
    drop_mid => Cut::Drop(50),
);

row!(
    erase_fs,
    EraseFs,
    close_0 => Cut::Close(0),
    close_1 => Cut::Close(1),
    close_2 => Cut::Close(2),
    close_3 => Cut::Close(3),
    close_4 => Cut::Close(4),
    close_5 => Cut::Close(5),
    close_6 => Cut::Close(6),
    close_7 => Cut::Close(7),
    close_8 => Cut::Close(8),
    corrupt_erase => Cut::Corrupt(0),
);
