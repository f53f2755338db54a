export { ConfigError, loadConfig, loadConfigOrExit, baseServiceConfig, withTestOnlyClockControl, type BaseServiceConfig } from './config.js';
