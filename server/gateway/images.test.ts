import { expect, test } from 'vitest';
import { makePng, makeWav } from '../testing/media-fixtures';
import { audioSeconds, audioTokens, sniffAudio, speechTokens } from './audio';
import { imageSize, imageTokens, inspectDataUrl, sniffImage } from './images';

// Headers as the formats define them (only the bytes the checks read).
function jpeg(width: number, height: number): Buffer {
  const app0 = Buffer.from([0xff, 0xe0, 0x00, 0x10, ...Buffer.from('JFIF\0'), 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08, height >> 8, height & 0xff, width >> 8, width & 0xff, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app0, sof, Buffer.from([0xff, 0xd9])]);
}
function gif(width: number, height: number): Buffer {
  const b = Buffer.alloc(13);
  b.write('GIF89a', 0, 'latin1');
  b.writeUInt16LE(width, 6);
  b.writeUInt16LE(height, 8);
  return b;
}
function webpVp8x(width: number, height: number): Buffer {
  const b = Buffer.alloc(30);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(22, 4);
  b.write('WEBPVP8X', 8, 'latin1');
  b.writeUIntLE(width - 1, 24, 3);
  b.writeUIntLE(height - 1, 27, 3);
  return b;
}

test('images are known by their bytes and measured from their headers', () => {
  expect(sniffImage(makePng(3, 2))).toBe('image/png');
  expect(imageSize('image/png', makePng(300, 200))).toEqual({ width: 300, height: 200 });
  expect(sniffImage(jpeg(640, 480))).toBe('image/jpeg');
  expect(imageSize('image/jpeg', jpeg(640, 480))).toEqual({ width: 640, height: 480 });
  expect(sniffImage(gif(17, 9))).toBe('image/gif');
  expect(imageSize('image/gif', gif(17, 9))).toEqual({ width: 17, height: 9 });
  expect(sniffImage(webpVp8x(4000, 3000))).toBe('image/webp');
  expect(imageSize('image/webp', webpVp8x(4000, 3000))).toEqual({ width: 4000, height: 3000 });
  expect(sniffImage(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"/>'))).toBeNull();
  expect(imageSize('image/jpeg', Buffer.from([0xff, 0xd8, 0xff]))).toBeNull();
});

test("image tokens follow OpenAI's tile rule", () => {
  expect(imageTokens(4000, 3000, 'low')).toBe(85);
  expect(imageTokens(512, 512, null)).toBe(255); // never scaled up: one tile
  expect(imageTokens(1024, 1024, null)).toBe(765); // 768×768: 4 tiles
  expect(imageTokens(2048, 4096, null)).toBe(1105); // 1024×2048 → 768×1536: 2×3 tiles
  expect(imageTokens(null, null, null)).toBe(765);
});

test('a data: URL is checked whole: declared type, base64, size', () => {
  const png = makePng(10, 10);
  expect(inspectDataUrl(`data:image/png;base64,${png.toString('base64')}`, 'x', { maxImageBytes: 10_000 })).toMatchObject({ type: 'image/png', bytes: png.length, width: 10, height: 10 });
  expect(() => inspectDataUrl(`data:image/png;base64,${png.toString('base64')}`, 'x', { maxImageBytes: 10 })).toThrow(/at most 10 bytes per image/);
  expect(() => inspectDataUrl('data:image/png;base64,***', 'x', { maxImageBytes: 10_000 })).toThrow(/not valid base64/);
  expect(() => inspectDataUrl(`data:image/jpeg;base64,${png.toString('base64')}`, 'x', { maxImageBytes: 10_000 })).toThrow(/says image\/jpeg but the bytes are image\/png/);
  expect(() => inspectDataUrl('data:text/plain,hello', 'x', { maxImageBytes: 10_000 })).toThrow(/expected a base64 data: URL/);
});

test('audio is known by its container and its length estimated for quotas', () => {
  const wav = makeWav(2);
  expect(sniffAudio(wav)).toBe('wav');
  expect(audioSeconds('wav', wav)).toBeCloseTo(2, 3);
  expect(audioTokens(audioSeconds('wav', wav))).toBe(20);
  expect(sniffAudio(Buffer.from([0x1a, 0x45, 0xdf, 0xa3, 0, 0]))).toBe('webm');
  expect(sniffAudio(Buffer.from('OggS\0\0'))).toBe('ogg');
  expect(sniffAudio(Buffer.from('ID3\x04'))).toBe('mp3');
  expect(sniffAudio(Buffer.from('hello there'))).toBeNull();
  expect(audioSeconds('webm', Buffer.alloc(32_000))).toBe(2);
  expect(speechTokens('x'.repeat(9))).toBe(3);
});
