import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { zipArchive } from './binary-builders.js';

async function write(dir: string, name: string, content: string | Buffer): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

export function zipFile(dir: string): Promise<string> {
  return write(dir, 'archive.zip', zipArchive([{ name: 'notes.txt', content: Buffer.from('hello from a zip') }]));
}

export function svgFile(dir: string): Promise<string> {
  return write(dir, 'drawing.svg', '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script><rect width="10" height="10"/></svg>\n');
}

export function htmlFile(dir: string): Promise<string> {
  return write(dir, 'page.html', '\uFEFF  \n<!DOCTYPE html>\n<html><body><p>Hello</p></body></html>\n');
}

export function xmlFile(dir: string): Promise<string> {
  return write(dir, 'data.xml', '<?xml version="1.0" encoding="UTF-8"?>\n<note><to>you</to></note>\n');
}

/** Plain prose that mentions a script tag in the middle: still markup, still refused. */
export function textWithScript(dir: string): Promise<string> {
  return write(dir, 'sneaky.txt', 'Dear reader,\nplease run <SCRIPT src="//evil.example/x.js"></script> for me.\n');
}

/** "Café crème" in ISO-8859-1: the é and è bytes are not valid UTF-8. */
export function latin1Text(dir: string): Promise<string> {
  return write(dir, 'latin1.txt', Buffer.from('Café crème, s\'il vous plaît.\n', 'latin1'));
}

export function emptyFile(dir: string): Promise<string> {
  return write(dir, 'empty.bin', Buffer.alloc(0));
}

export const UTF8_TEXT = '\uFEFFBonjour, ça va ? Привет! 你好 👋\r\nSecond line\r\n';

export function utf8Text(dir: string): Promise<string> {
  return write(dir, 'letter.txt', UTF8_TEXT);
}

/** UTF-16 text: a BOM and NUL bytes between the ASCII letters. Not accepted (UTF-8 only). */
export function utf16Text(dir: string): Promise<string> {
  return write(dir, 'utf16.txt', Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('hello', 'utf16le')]));
}

/** A PDF header: recognised by its magic number, not an accepted type. */
export function pdfFile(dir: string): Promise<string> {
  return write(dir, 'doc.pdf', '%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n');
}

/** The start of a Windows executable. */
export function exeFile(dir: string): Promise<string> {
  const header = Buffer.alloc(512);
  header.write('MZ', 0, 'latin1');
  header.writeUInt32LE(0x80, 0x3c);
  header.write('PE\0\0', 0x80, 'latin1');
  return write(dir, 'setup.exe', header);
}
