pub fn runtime_version() -> u32 { 1 }
