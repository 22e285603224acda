//! Windows DPAPI: `CryptUnprotectData` for the key in Chromium's Local
//! State (feature `legacy`, Windows only).
//!
//! The only `unsafe` code of the crate, one FFI call and one free. It
//! cannot be compiled on the Linux machines this project is developed on;
//! it was written against the `windows-sys` 0.61 signatures:
//!
//! ```text
//! CryptUnprotectData(pdatain: *const CRYPT_INTEGER_BLOB, ppszdatadescr: *mut PWSTR,
//!     poptionalentropy: *const CRYPT_INTEGER_BLOB, pvreserved: *const c_void,
//!     ppromptstruct: *const CRYPTPROTECT_PROMPTSTRUCT, dwflags: u32,
//!     pdataout: *mut CRYPT_INTEGER_BLOB) -> BOOL
//! LocalFree(hmem: HLOCAL) -> HLOCAL
//! ```
//!
//! Chromium calls it with no description, entropy or prompt and flags 0;
//! we add `CRYPTPROTECT_UI_FORBIDDEN` so it can never block on a dialog.
#![allow(unsafe_code)]

use windows_sys::Win32::Foundation::LocalFree;
use windows_sys::Win32::Security::Cryptography::{
    CryptUnprotectData, CRYPTPROTECT_UI_FORBIDDEN, CRYPT_INTEGER_BLOB,
};
use zeroize::Zeroizing;

/// Decrypts a DPAPI blob of the current user. `Err` carries the OS error.
pub fn unprotect(blob: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    let len = u32::try_from(blob.len()).map_err(|_| "DPAPI blob too large".to_owned())?;
    let input = CRYPT_INTEGER_BLOB {
        cbData: len,
        // CryptUnprotectData only reads the input; the API is not const-correct.
        pbData: blob.as_ptr().cast_mut(),
    };
    let mut output = CRYPT_INTEGER_BLOB {
        cbData: 0,
        pbData: std::ptr::null_mut(),
    };
    // SAFETY: `input` points at `len` readable bytes that outlive the call;
    // the optional pointers are null, as the API allows; `output` is a
    // valid, writable struct that the call fills with a LocalAlloc'd buffer.
    let ok = unsafe {
        CryptUnprotectData(
            &input,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
            std::ptr::null(),
            CRYPTPROTECT_UI_FORBIDDEN,
            &mut output,
        )
    };
    if ok == 0 {
        return Err(format!(
            "DPAPI could not decrypt the Local State key: {} (another Windows user, or a reset password?)",
            std::io::Error::last_os_error()
        ));
    }
    if output.pbData.is_null() {
        return Ok(Zeroizing::new(Vec::new()));
    }
    // SAFETY: on success `output.pbData` points at `output.cbData` bytes
    // allocated by the call, valid until LocalFree below; they are copied
    // out, wiped, and freed exactly once.
    let key = unsafe {
        let bytes = std::slice::from_raw_parts_mut(output.pbData, output.cbData as usize);
        let copy = Zeroizing::new(bytes.to_vec());
        zeroize::Zeroize::zeroize(bytes);
        LocalFree(output.pbData.cast());
        copy
    };
    Ok(key)
}
