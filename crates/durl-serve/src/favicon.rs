//! The icon browsers ask for at `/favicon.ico` on every visit, drawn here rather than stored
//! as a picture: a 16×16, 32-bit ICO (one BMP image, Microsoft's ICONDIR/ICONDIRENTRY layout)
//! of a white download arrow on a rounded blue square. Built once, 1,150 bytes.

use std::sync::OnceLock;

/// Width and height in pixels.
const SIZE: usize = 16;

/// The ICO file's bytes.
pub(crate) fn bytes() -> &'static [u8] {
    static ICON: OnceLock<Vec<u8>> = OnceLock::new();
    ICON.get_or_init(build)
}

/// BGRA of pixel (x, y), y counted from the top.
fn pixel(x: usize, y: usize) -> [u8; 4] {
    const CLEAR: [u8; 4] = [0, 0, 0, 0];
    const BLUE: [u8; 4] = [0xc0, 0x65, 0x15, 0xff];
    const WHITE: [u8; 4] = [0xff, 0xff, 0xff, 0xff];
    // Rounded corners: leave out the pixels outside a radius-3 arc in each corner.
    let dx = if x < 3 { 3 - x } else { x.saturating_sub(12) };
    let dy = if y < 3 { 3 - y } else { y.saturating_sub(12) };
    if dx * dx + dy * dy > 9 {
        return CLEAR;
    }
    let shaft = (7..9).contains(&x) && (3..9).contains(&y);
    // The head: rows 8..12 narrow by one pixel per row on each side, centred on 7.5.
    let head = (8..12).contains(&y) && {
        let half = 12 - y; // 4, 3, 2, 1
        x + half >= 8 && x < 8 + half
    };
    let base = (3..13).contains(&x) && y == 13;
    if shaft || head || base { WHITE } else { BLUE }
}

fn build() -> Vec<u8> {
    let pixels = SIZE * SIZE * 4;
    // The AND mask: one bit per pixel, rows padded to 32 bits; all zero (alpha decides).
    let mask = SIZE * 4;
    let image = 40 + pixels + mask;
    let mut out = Vec::with_capacity(6 + 16 + image);
    // ICONDIR: reserved, type 1 (icon), one image.
    out.extend_from_slice(&[0, 0, 1, 0, 1, 0]);
    // ICONDIRENTRY: width, height, no palette, reserved, 1 plane, 32 bits, size, offset 22.
    out.extend_from_slice(&[SIZE as u8, SIZE as u8, 0, 0, 1, 0, 32, 0]);
    out.extend_from_slice(&(image as u32).to_le_bytes());
    out.extend_from_slice(&22u32.to_le_bytes());
    // BITMAPINFOHEADER; the height counts the colour rows and the mask rows.
    out.extend_from_slice(&40u32.to_le_bytes());
    out.extend_from_slice(&(SIZE as i32).to_le_bytes());
    out.extend_from_slice(&(2 * SIZE as i32).to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&32u16.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // BI_RGB
    out.extend_from_slice(&((pixels + mask) as u32).to_le_bytes());
    out.extend_from_slice(&[0; 16]); // resolution and palette counts
    // Rows bottom-up.
    for y in (0..SIZE).rev() {
        for x in 0..SIZE {
            out.extend_from_slice(&pixel(x, y));
        }
    }
    out.resize(out.len() + mask, 0);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_icon_is_a_well_formed_ico() {
        let ico = bytes();
        assert_eq!(&ico[..6], &[0, 0, 1, 0, 1, 0], "ICONDIR, one icon");
        let size = u32::from_le_bytes(ico[14..18].try_into().unwrap()) as usize;
        let offset = u32::from_le_bytes(ico[18..22].try_into().unwrap()) as usize;
        assert_eq!(
            offset + size,
            ico.len(),
            "the entry covers the rest of the file"
        );
        assert_eq!(ico.len(), 1150);
        // The centre of the arrow's shaft is white, a corner is transparent, the edge blue.
        assert_eq!(pixel(7, 5), [0xff; 4]);
        assert_eq!(pixel(0, 0)[3], 0);
        assert_eq!(pixel(1, 8), [0xc0, 0x65, 0x15, 0xff]);
    }
}
