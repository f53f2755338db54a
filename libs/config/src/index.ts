export { ConfigError, loadConfig, loadConfigOrExit, baseServiceConfig, databaseServiceConfig, withTestOnlyClockControl, type BaseServiceConfig } from './config.js';
