export { Moderator, RULE_CODE, type ModerationCheck, type ModerationVerdict } from './moderation.js';
export { ImageBlocklistCheck } from './image-blocklist-check.js';
export { TextRuleCheck, TEXT_RULE_ID, normaliseForMatching, type TextRule } from './text-rule-check.js';
export { moderationConfigShape, moderatorFromConfig, parseBlocklist, parseTextRules, type ModerationConfig } from './moderation-config.js';
export { moderationDHash, type ImageHashOptions } from './dhash.js';
export { differenceHash, formatDHash, hammingDistance } from '@homiwork/perceptual-hash';
