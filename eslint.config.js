import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

/** Files in `files` (a layer) may not import what matches any of `forbidden`: [regex, what it is]. */
function layer(files, name, forbidden) {
  return [
    {
      files,
      rules: {
        'no-restricted-imports': [
          'error',
          {
            patterns: forbidden.map(([regex, what]) => ({
              regex,
              message: `layers point one way: ${name} may not import ${what} (docs/architecture.md, Layers)`,
            })),
          },
        ],
      },
    },
  ];
}

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'coverage/', 'helm/', 'jest.config.js', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  // Layers point one way (docs/architecture.md, "Layers"): the core (events, config, errors,
  // security) at the bottom; then db, kafka, store, observability and simulate; then the read
  // models (projections/); then the Kafka runtime (consumers/), which sees only the contract of the
  // read models; the commands (cli/, and bench/ beside the product) at the top, imported by nothing.
  ...layer(
    [
      'src/events/**',
      'src/config.ts',
      'src/configEnv.ts',
      'src/errors.ts',
      'src/security/**',
      'src/freePort.ts',
    ],
    'the core',
    [
      ['(^|/)(db|kafka|store|observability|simulate)/', 'db, kafka, store, observability or simulate'],
      ['(^|/)(projections|consumers|cli|bench)/', 'a read model, the consumers or a command'],
    ],
  ),
  ...layer(
    ['src/db/**', 'src/kafka/**', 'src/store/**', 'src/observability/**', 'src/simulate/**'],
    'db, kafka and store',
    [['(^|/)(projections|consumers|cli|bench)/', 'a read model, the consumers or a command']],
  ),
  ...layer(['projections/**'], 'a read model', [
    ['(^|/)(consumers|cli|bench)/', 'the consumers or a command'],
  ]),
  ...layer(['consumers/**'], 'the consumers', [
    ['(^|/)(cli|bench)/', 'a command'],
    [
      '(^|/)projections/(?!projection\\.js$)',
      "a read model's internals (only projections/projection.js, the contract)",
    ],
  ]),
  // Plain JS (Jest's globalSetup, loaded outside the TS transform): syntax rules only.
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: { parserOptions: { projectService: false }, globals: globals.node },
  },
);
