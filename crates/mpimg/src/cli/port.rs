//! Serial port names on the command line: which FILENAMEs are ports, and the
//! short names (`u0`, `a0`, `c0`) mp-image-tool-esp32 accepts for them.

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
}
