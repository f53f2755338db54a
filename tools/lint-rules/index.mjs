// Architectural invariants enforced by lint rather than by memory. Each rule names the
// policy clause or design rule it protects, so a failing lint explains itself.

/** Services take "now" from the injected Clock, so tests move time instead of sleeping (R9, foundation). */
const clockOnly = {
  meta: {
    type: 'problem',
    docs: { description: 'time-based decisions use the injected Clock, not Date.now() or new Date()' },
    messages: { useClock: 'Use the injected Clock (clock.now()) for time-based decisions; tests must be able to move it.' },
    schema: [],
  },
  create(context) {
    return {
      'CallExpression[callee.object.name="Date"][callee.property.name="now"]'(node) {
        context.report({ node, messageId: 'useClock' });
      },
      'NewExpression[callee.name="Date"]'(node) {
        if (node.arguments.length === 0) context.report({ node, messageId: 'useClock' });
      },
    };
  },
};

/**
 * The raw client address is read in exactly one place, the gateway's edge, where it is
 * hashed at once (policy §2.1.4, R2.1). Anywhere else, touching `.ip`, `.ips` or
 * `remoteAddress` is a leak waiting to happen.
 */
const noRawClientAddress = {
  meta: {
    type: 'problem',
    docs: { description: 'the raw client IP is read only where it is hashed' },
    messages: { rawIp: 'The raw client address may be read only in the gateway edge hasher (policy §2.1.4).' },
    schema: [],
  },
  create(context) {
    return {
      MemberExpression(node) {
        const name = node.property.type === 'Identifier' ? node.property.name : node.property.type === 'Literal' ? node.property.value : undefined;
        if (name === 'ip' || name === 'ips' || name === 'remoteAddress') context.report({ node, messageId: 'rawIp' });
      },
    };
  },
};

/** Schema changes go through migrations; `synchronize` would let an entity edit drop a column in production (foundation). */
const noSynchronize = {
  meta: {
    type: 'problem',
    docs: { description: 'TypeORM synchronize is never enabled' },
    messages: { sync: 'Never enable TypeORM synchronize: the schema changes through migrations only.' },
    schema: [],
  },
  create(context) {
    return {
      'Property[key.name="synchronize"]'(node) {
        if (!(node.value.type === 'Literal' && node.value.value === false)) context.report({ node, messageId: 'sync' });
      },
    };
  },
};

export default {
  meta: { name: 'homiwork' },
  rules: { 'clock-only': clockOnly, 'no-raw-client-address': noRawClientAddress, 'no-synchronize': noSynchronize },
};
