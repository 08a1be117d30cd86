// Lint the bugs that matter: floating promises, missing awaits in try,
// stray console calls, focused or skipped tests, unused code.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'cdk.out/', '.local/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: true,
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test's describe/it return promises the runner awaits itself.
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: ['describe', 'it', 'test', 'suite'],
            },
          ],
        },
      ],
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_' },
      ],
      'no-console': 'error',
      'no-restricted-properties': [
        'error',
        { object: 'it', property: 'only', message: 'Focused test.' },
        { object: 'it', property: 'skip', message: 'Skipped test.' },
        { object: 'describe', property: 'only', message: 'Focused test.' },
        { object: 'describe', property: 'skip', message: 'Skipped test.' },
        { object: 'test', property: 'only', message: 'Focused test.' },
        { object: 'test', property: 'skip', message: 'Skipped test.' },
      ],
    },
  },
  {
    // Command-line entry points talk to a person on stdout.
    files: [
      'local/**/*.ts',
      'cli/**/*.ts',
      'scripts/**/*.ts',
      'infra/bin/**/*.ts',
    ],
    rules: { 'no-console': 'off' },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
