//! Serial port names on the command line: which FILENAMEs are ports, the
//! short names (`u0`, `a0`, `c0`) mp-image-tool-esp32 accepts for them, and
//! lists of boards (`u0,u1,u2`, or `all`).

/// The boards a run goes to: ports named on the command line, or every
/// port that answers as an ESP loader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Boards {
    /// These ports (short names expanded), in the order given, without repeats.
    Ports(Vec<String>),
    /// `all`: every serial port of this computer (or those in `$MPIMG_PORTS`)
    /// whose loader answers; the others are skipped.
    All,
}

impl Boards {
    /// `u0,u1` (comma separated, short names allowed) or `all`.
    pub fn parse(arg: &str) -> Boards {
        if arg.trim() == "all" {
            return Boards::All;
        }
        let mut ports: Vec<String> = Vec::new();
        for p in arg.split(',').map(str::trim).filter(|p| !p.is_empty()).map(expand_device) {
            if !ports.contains(&p) {
                ports.push(p);
            }
        }
        Boards::Ports(ports)
    }

    /// The one port, when exactly one is named.
    pub fn single(&self) -> Option<&str> {
        match self {
            Boards::Ports(p) if p.len() == 1 => Some(&p[0]),
            _ => None,
        }
    }
}

/// Whether `name` is a list of ports (`u0,u1`) or `all` rather than a file
/// (an existing file of that name is a file).
pub fn is_board_list(name: &str) -> bool {
    if std::fs::metadata(name).is_ok_and(|m| m.is_file()) {
        return false;
    }
    name == "all"
        || (name.contains(',') && name.split(',').filter(|p| !p.trim().is_empty()).all(|p| is_device(p.trim())))
}

/// Whether `name` is a serial port rather than a file: `/dev/tty*`,
/// `/dev/cu.*`, `/dev/pts/*`, `COMn`, or a short name (u0, a0, c0). An
/// existing regular file is always a file (so `/dev/shm/fw.bin` works, which
/// the Python tool's "starts with /dev/" rule gets wrong).
pub fn is_device(name: &str) -> bool {
    if std::fs::metadata(name).is_ok_and(|m| m.is_file()) {
        return false;
    }
    let port = expand_device(name);
    let com = port.strip_prefix("COM").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    com || ["/dev/tty", "/dev/cu.", "/dev/pts/"].iter().any(|p| port.starts_with(p))
}

/// `u0` → `/dev/ttyUSB0`, `a0` → `/dev/ttyACM0`, `c0` → `COM0`; anything else as it is.
pub fn expand_device(name: &str) -> String {
    let num = |p: &str| name.strip_prefix(p).filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    if let Some(n) = num("u") {
        format!("/dev/ttyUSB{n}")
    } else if let Some(n) = num("a") {
        format!("/dev/ttyACM{n}")
    } else if let Some(n) = num("c") {
        format!("COM{n}")
    } else {
        name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_names() {
        for d in ["u0", "a1", "c3", "/dev/ttyUSB0", "/dev/ttyACM1", "/dev/cu.usbserial-1", "/dev/pts/4", "COM7"] {
            assert!(is_device(d), "{d}");
        }
        for f in ["fw.bin", "/dev/shm/fw.bin", "COMx", "u", "uu0", "/tmp/ttyUSB0"] {
            assert!(!is_device(f), "{f}");
        }
        assert_eq!(expand_device("u0"), "/dev/ttyUSB0");
        assert_eq!(expand_device("a12"), "/dev/ttyACM12");
        assert_eq!(expand_device("c3"), "COM3");
    }

    #[test]
    fn board_lists() {
        assert_eq!(
            Boards::parse("u0, a1,u0,/dev/pts/4"),
            Boards::Ports(vec!["/dev/ttyUSB0".into(), "/dev/ttyACM1".into(), "/dev/pts/4".into()])
        );
        assert_eq!(Boards::parse("all"), Boards::All);
        assert_eq!(Boards::parse("u3").single(), Some("/dev/ttyUSB3"));
        assert_eq!(Boards::parse("u3,u4").single(), None);
        for l in ["u0,u1", "all", "/dev/pts/3,/dev/pts/4", "COM3,COM4,"] {
            assert!(is_board_list(l), "{l}");
        }
        for f in ["u0", "fw.bin,u1", "a.bin,b.bin", "alls"] {
            assert!(!is_board_list(f), "{f}");
        }
    }
}
