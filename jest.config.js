// The project is ESM ("type": "module") on purpose: p-limit 7 is ESM-only and fast-check 4 is
// ESM-first, and Node 20 runs ESM natively. Jest loads ESM only through its VM-modules support,
// so the npm scripts start it with --experimental-vm-modules; test/unit/esm-imports.unit.test.ts
// proves both packages load.
const tsJest = ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }];
const common = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': tsJest },
};

export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.unit.test.ts'] },
    {
      ...common,
      displayName: 'int',
      testMatch: ['<rootDir>/test/int/**/*.int.test.ts'],
      globalSetup: '<rootDir>/test/support/globalSetup.js',
      globalTeardown: '<rootDir>/test/support/globalTeardown.js',
      setupFilesAfterEnv: ['<rootDir>/test/support/timeouts.ts'],
    },
    {
      // npm run test:citus: the same integration tests and fault suite on a Citus cluster, plus the
      // scenarios only a cluster has. The TLS tests start a PostgreSQL of their own, so they stay
      // in `int`, and the operator-input sweep does not depend on the database.
      ...common,
      displayName: 'citus',
      testMatch: [
        '<rootDir>/test/int/**/*.int.test.ts',
        '<rootDir>/test/faults/faults.fault.test.ts',
        '<rootDir>/test/citus/**/*.citus.test.ts',
      ],
      testPathIgnorePatterns: ['/node_modules/', '/test/int/security\\.int\\.test\\.ts$'],
      globalSetup: '<rootDir>/test/support/globalSetup.js',
      globalTeardown: '<rootDir>/test/support/globalTeardown.js',
      setupFilesAfterEnv: ['<rootDir>/test/support/faultTimeouts.ts'],
    },
    {
      // npm run test:cluster: failovers of a 3-broker Kafka cluster (scripts/kafka-cluster.sh).
      ...common,
      displayName: 'cluster',
      testMatch: ['<rootDir>/test/cluster/**/*.cluster.test.ts'],
      globalSetup: '<rootDir>/test/support/globalSetup.js',
      globalTeardown: '<rootDir>/test/support/globalTeardown.js',
      setupFilesAfterEnv: ['<rootDir>/test/support/faultTimeouts.ts'],
    },
    {
      ...common,
      displayName: 'faults',
      testMatch: ['<rootDir>/test/faults/**/*.fault.test.ts'],
      globalSetup: '<rootDir>/test/support/globalSetup.js',
      globalTeardown: '<rootDir>/test/support/globalTeardown.js',
      setupFilesAfterEnv: ['<rootDir>/test/support/faultTimeouts.ts'],
    },
  ],
};
