export const SCHEMA = 'svc';
