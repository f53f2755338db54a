export { Clock, SystemClock, ShiftableClock, DAY_MS, addDays } from './clock.js';
