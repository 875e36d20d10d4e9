import { describe, expect, it } from 'vitest';
import { countFindings, findSensitive, maskFindings, type CustomRules } from './detect';
import { compileRules, riskyShape, RuleError, vetRule } from './rules';

/** The matched texts by type, for readable expectations (tests only: production never keeps values). */
function found(text: string, custom?: CustomRules): [string, string][] {
  return findSensitive(text, custom).map((f) => [f.type, text.slice(f.start, f.end)]);
}

describe('findSensitive: true positives in real formats', () => {
  it.each([
    ['请联系 zhang.san@example.com.cn 获取', 'email', 'zhang.san@example.com.cn'],
    ['mail a.b+tag@sub.example.org.', 'email', 'a.b+tag@sub.example.org'],
    ['手机13800138000，谢谢', 'phone', '13800138000'],
    ['call 139-1234-5678 today', 'phone', '139-1234-5678'],
    ['call 139 1234 5678 today', 'phone', '139 1234 5678'],
    ['座机 010-12345678', 'phone', '010-12345678'],
    ['深圳 0755-1234567 转', 'phone', '0755-1234567'],
    ['intl +8613800138000', 'phone', '+8613800138000'],
    ['US +14155552671 office', 'phone', '+14155552671'],
    ['US +1 415 555 2671 office', 'phone', '+1 415 555 2671'],
    ['身份证号11010519491231002X。', 'cn_id', '11010519491231002X'],
    ['id 440306198507133412 ok', 'cn_id', '440306198507133412'],
    ['lowercase x 11010519491231002x', 'cn_id', '11010519491231002x'],
    ['old id 110105491231002 here', 'cn_id', '110105491231002'],
    ['card 4111 1111 1111 1111 exp', 'bank_card', '4111 1111 1111 1111'],
    ['卡号6222020200012345670', 'bank_card', '6222020200012345670'],
    ['card 6212-2610-0000-0001-239', 'bank_card', '6212-2610-0000-0001-239'],
    ['amex 3782 822463 10005', 'bank_card', '3782 822463 10005'],
    ['护照号 E12345678', 'passport', 'E12345678'],
    ['passport EA1234567.', 'passport', 'EA1234567'],
    ['old passport G12345678', 'passport', 'G12345678'],
    ['host 192.168.1.1 up', 'ipv4', '192.168.1.1'],
    ['ip:10.0.0.255', 'ipv4', '10.0.0.255'],
    ['v6 2001:db8::1 up', 'ipv6', '2001:db8::1'],
    ['loopback ::1', 'ipv6', '::1'],
    ['full 2001:0db8:85a3:0000:0000:8a2e:0370:7334 end', 'ipv6', '2001:0db8:85a3:0000:0000:8a2e:0370:7334'],
    ['[fe80::1ff:fe23:4567:890a]:8080', 'ipv6', 'fe80::1ff:fe23:4567:890a'],
    ['mapped ::ffff:192.0.2.1 end', 'ipv6', '::ffff:192.0.2.1'],
  ])('%s', (text, type, value) => {
    expect(found(text)).toEqual([[type, value]]);
  });

  it('finds several kinds in one text, in order, without overlaps', () => {
    const text = 'Zhang San, 11010519491231002X, zs@example.com, 13800138000, from 10.1.2.3';
    expect(found(text).map(([t]) => t)).toEqual(['cn_id', 'email', 'phone', 'ipv4']);
    expect(countFindings(findSensitive(text))).toEqual({ cn_id: 1, email: 1, phone: 1, ipv4: 1 });
  });

  it('a phone number used as an e-mail name is one e-mail address', () => {
    expect(found('13800138000@qq.com')).toEqual([['email', '13800138000@qq.com']]);
  });
});

describe('findSensitive: near misses are not findings', () => {
  it.each([
    ['a wrong check digit', '身份证 110105194912310021'],
    ['an impossible birth date', 'id 110105194913310024'],
    ['a birth date in the future', 'id 110105209912310028'],
    ['an unknown region', 'id 990105194912310028'],
    ['an old id with a bad date', 'id 110105491331002'],
    ['a card failing Luhn', 'card 4111 1111 1111 1112'],
    ['a Luhn-valid order number', 'order 2024010112345670'],
    ['an order number', '订单号 2024010112345678 已发货'],
    ['a mobile starting 12', 'tel 12345678901'],
    ['a mobile with a digit too many', 'tel 138001380001'],
    ['an invalid octet', 'ip 999.1.1.1'],
    ['a version number', 'version 1.2.3.4.5'],
    ['leading zeros', 'ip 01.02.03.04'],
    ['a date', 'on 2024-01-01 at 12:30:45'],
    ['a time range', '09:00-17:30'],
    ['a MAC address', 'mac 00:1A:2B:3C:4D:5E'],
    ['C++ scope', 'std::vector and a::b'],
    ['a passport number inside a word', 'code XE12345678 and E123456789'],
    ['a lowercase passport prefix', 'e12345678'],
    ['an e-mail without a domain', 'ping me @ home, user@localhost'],
    ['digits inside a hash', 'sha 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08'],
    ['a money amount', 'total ¥13,800,138,000.00'],
    ['a decimal', 'pi is 3.14159265358979'],
    ['plain prose', 'The quick brown fox 跳过了懒狗。Note: nothing here.'],
  ])('%s', (_why, text) => {
    expect(found(text)).toEqual([]);
  });
});

describe('maskFindings', () => {
  it('replaces each finding by its label and keeps the rest', () => {
    const text = '我的身份证是11010519491231002X，电话13800138000，邮箱 a@b.cn，IP 10.0.0.1';
    expect(maskFindings(text, findSensitive(text))).toBe('我的身份证是[ID_NUMBER]，电话[PHONE]，邮箱 [EMAIL]，IP [IP_ADDRESS]');
  });
  it('labels card, passport and custom findings', () => {
    const rules = compileRules([{ name: 'project', kind: 'keywords', pattern: 'Apollo\nproject x' }]);
    const text = 'card 4111111111111111, passport E12345678, about apollo';
    expect(maskFindings(text, findSensitive(text, rules))).toBe('card [BANK_CARD], passport [PASSPORT], about [CUSTOM:project]');
  });
});

describe('custom rules', () => {
  it('a regex and a keyword list find their matches, counted by rule name', () => {
    const rules = compileRules([
      { name: 'employee-id', kind: 'regex', pattern: 'EMP-\\d{6}' },
      { name: 'codename', kind: 'keywords', pattern: '  Apollo \n\nGemini\n' },
    ]);
    const text = 'EMP-123456 works on APOLLO and gemini; EMP-12 does not';
    expect(countFindings(findSensitive(text, rules))).toEqual({ 'custom:employee-id': 1, 'custom:codename': 2 });
  });

  it('a pattern matching the empty string does not loop', () => {
    const rules = compileRules([{ name: 'empty', kind: 'regex', pattern: 'x*' }]);
    expect(countFindings(findSensitive('abx xx', rules))).toEqual({ 'custom:empty': 2 });
  });

  it.each([
    ['(a+)+$', 'a repeated group that repeats inside'],
    ['(\\d+\\s?)+x', 'a repeated group that repeats inside'],
    ['(a|aa)*b', 'a repeated alternation'],
    ['(x+x+)+y', 'a repeated group that repeats inside'],
    ['(a)\\1', 'a backreference'],
    ['(?=a)b', 'a lookaround'],
  ])('refuses the catastrophic shape %s', (pattern, shape) => {
    expect(riskyShape(pattern)).toBe(shape);
    expect(() => vetRule({ name: 'x', kind: 'regex', pattern })).toThrow(RuleError);
  });

  it.each(['EMP-\\d{6}', '(?:\\d{3}-)?\\d{4}', '[A-Z]{2}\\d{6,8}', 'secret|confidential', '(ab|cd){2}'])('accepts the safe pattern %s', (pattern) => {
    expect(riskyShape(pattern)).toBeNull();
    expect(() => vetRule({ name: 'ok', kind: 'regex', pattern })).not.toThrow();
  });

  it('names the field of what is wrong', () => {
    const fieldOf = (def: Parameters<typeof vetRule>[0]) => {
      try {
        vetRule(def);
        return null;
      } catch (e) {
        return (e as RuleError).field;
      }
    };
    expect(fieldOf({ name: 'Bad Name', kind: 'regex', pattern: 'a' })).toBe('name');
    expect(fieldOf({ name: 'ok', kind: 'regex', pattern: '(' })).toBe('pattern');
    expect(fieldOf({ name: 'ok', kind: 'regex', pattern: 'a'.repeat(201) })).toBe('pattern');
    expect(fieldOf({ name: 'ok', kind: 'keywords', pattern: ' \n ' })).toBe('pattern');
  });
});

describe('speed', () => {
  it('scans 10 MB of text without candidates, and 1 MB dense with identifiers, quickly', () => {
    const clean = '这是一个没有敏感信息的句子。The quick brown fox jumps over the lazy dog. '.repeat(150_000);
    let t = performance.now();
    expect(findSensitive(clean)).toEqual([]);
    const cleanMs = performance.now() - t;
    const dense = 'id 11010519491231002X tel 13800138000 a@b.cn 10.0.0.1 订单 2024010112345678 '.repeat(14_000);
    t = performance.now();
    expect(findSensitive(dense)).toHaveLength(4 * 14_000);
    const denseMs = performance.now() - t;
    // Generous bounds for a loaded CI machine; bench/pii measures the real figures.
    expect(cleanMs).toBeLessThan(1_000);
    expect(denseMs).toBeLessThan(1_500);
  });
});

describe('identity number dates', () => {
  const withCheck = (body17: string) => {
    const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum = 0;
    for (let i = 0; i < 17; i++) sum += Number(body17[i]) * w[i]!;
    return body17 + '10X98765432'[sum % 11];
  };
  it('29 February counts only in a leap year', () => {
    expect(found(`id ${withCheck('11010520000229001')}`).map(([t]) => t)).toEqual(['cn_id']);
    expect(found(`id ${withCheck('11010519990229001')}`)).toEqual([]);
    expect(found(`id ${withCheck('11010519000229001')}`)).toEqual([]); // 1900 was not a leap year
  });
});
