import 'reflect-metadata';

// Tests run in the test mode of every service: the clock may be moved, nothing else differs.
process.env.NODE_ENV = 'test';
