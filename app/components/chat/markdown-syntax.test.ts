import { describe, expect, it } from 'vitest';
import { needsMarkdown, plainParagraphs } from './markdown-syntax';

describe('needsMarkdown', () => {
  it('says no for plain prose, so the renderer chunk is not loaded', () => {
    for (const text of ['Once upon a time, there was a little girl named Lily.', 'Hello!\nHow are you? It costs 5 dollars (or 4.50).', '你好，世界。', 'A - B and 3.5 + 2 = 5.5']) {
      expect(needsMarkdown(text), text).toBe(false);
    }
  });
  it('says yes for each kind of Markdown syntax', () => {
    const samples = [
      '**bold**', '_em_', 'use `code`', '~~gone~~', '# Title', '> quoted', '- item', '* item', '+ item', '1. first', '2) second',
      '| a | b |', '[link](https://x.test)', '![img](a.png)', 'a\\*b', 'Tom &amp; Jerry', '&#169;', 'see https://example.test', 'www.example.test',
      'Title\n=====', 'Title\n---', '    indented code', '\tcode', '<b>html</b>',
    ];
    for (const text of samples) expect(needsMarkdown(text), text).toBe(true);
  });
});

describe('plainParagraphs', () => {
  it('splits on blank lines and keeps single line breaks', () => {
    expect(plainParagraphs('one\ntwo\n\n  three  \n\n\n')).toEqual(['one\ntwo', 'three']);
    expect(plainParagraphs('   ')).toEqual([]);
  });
});
