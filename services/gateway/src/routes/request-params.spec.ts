import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors/gateway-error.js';
import { assistantId, booleanQuery, resourceId } from './request-params.js';

describe('resourceId', () => {
  it('passes a lower-case UUID and answers anything else with the 404 of an unknown id', () => {
    expect(resourceId('0b6c2f4e-3f0a-4b8e-9d6c-2a1f4e7c9b10')).toBe('0b6c2f4e-3f0a-4b8e-9d6c-2a1f4e7c9b10');
    for (const id of ['', 'abc', '0B6C2F4E-3F0A-4B8E-9D6C-2A1F4E7C9B10', '0b6c2f4e-3f0a-4b8e-9d6c-2a1f4e7c9b10 ', "1' OR '1'='1"]) {
      expect(() => resourceId(id), id).toThrow(expect.objectContaining({ status: 404, code: 'not_found' }));
    }
  });
});

describe('assistantId', () => {
  it('passes an id of the contract’s pattern and answers anything else with the 404 of an unknown id', () => {
    expect(assistantId('poem-helper')).toBe('poem-helper');
    expect(assistantId('a'.repeat(40))).toBe('a'.repeat(40));
    for (const id of ['', 'Poem-Helper', 'poem_helper', 'poem helper', '../me', 'a'.repeat(41), 'poem-helper\n', "x' OR '1'='1"]) {
      expect(() => assistantId(id), id).toThrow(expect.objectContaining({ status: 404, code: 'not_found' }));
    }
  });
});

describe('booleanQuery', () => {
  it('reads true and false, and the fallback when absent', () => {
    expect(booleanQuery({ deleted: 'true' }, 'deleted', false)).toBe(true);
    expect(booleanQuery({ deleted: 'false' }, 'deleted', true)).toBe(false);
    expect(booleanQuery({}, 'deleted', false)).toBe(false);
    expect(booleanQuery(undefined, 'redirect', true)).toBe(true);
  });

  it('refuses anything else with a 400 naming the parameter', () => {
    for (const value of ['', 'TRUE', '1', 'yes', ['true', 'true']]) {
      let error: unknown;
      try {
        booleanQuery({ deleted: value }, 'deleted', false);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(GatewayError);
      expect(error).toMatchObject({ status: 400, code: 'validation_failed', message: 'deleted: must be true or false' });
    }
  });
});
