/**
 * Two projects: unit tests need nothing; integration tests share one migrated test database on the local
 * PostgreSQL and a streaming replica of it (test/global-setup.ts), and each file starts its own gateway.
 */
const transform = { '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }] };
module.exports = {
  testTimeout: 60000,
  maxWorkers: 2,
  // A safety net for CI: a leaked socket must not keep the run alive until the job's time limit.
  forceExit: true,
  projects: [
    { displayName: 'unit', testEnvironment: 'node', transform, testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      displayName: 'integration',
      testEnvironment: 'node',
      transform,
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/global-setup.ts',
      globalTeardown: '<rootDir>/test/global-teardown.ts',
    },
  ],
};
