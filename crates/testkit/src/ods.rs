//! Hand-made OpenDocument spreadsheets: the three parts calamine reads, with the
//! `content.xml` rows given as XML, so tests can write what no office suite would.

use std::io::Write;

/// An `.ods` file whose one table ("Songs") holds `rows` (`<table:table-row>` XML).
pub fn ods_bytes(rows: &str) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("mimetype", stored).unwrap();
    zip.write_all(b"application/vnd.oasis.opendocument.spreadsheet")
        .unwrap();
    zip.start_file("META-INF/manifest.xml", stored).unwrap();
    zip.write_all(
        br#"<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#,
    )
    .unwrap();
    zip.start_file("content.xml", stored).unwrap();
    write!(
        zip,
        r#"<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Songs">{rows}</table:table></office:spreadsheet></office:body></office:document-content>"#
    )
    .unwrap();
    zip.finish().unwrap().into_inner()
}

/// [`ods_bytes`] written to `path`.
pub fn write_ods(path: &std::path::Path, rows: &str) {
    std::fs::write(path, ods_bytes(rows)).expect("write the .ods file");
}

/// One text cell.
pub fn ods_text(s: &str) -> String {
    format!(
        r#"<table:table-cell office:value-type="string"><text:p>{s}</text:p></table:table-cell>"#
    )
}

/// One row of text cells.
pub fn ods_row(cells: &[&str]) -> String {
    let cells: String = cells.iter().map(|c| ods_text(c)).collect();
    format!("<table:table-row>{cells}</table:table-row>")
}
