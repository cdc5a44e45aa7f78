// Lint encodes the architecture: apps import libs, libs never import apps, no app imports
// another app, libs/contracts imports nothing internal. Type-aware rules catch floating
// promises and non-exhaustive switches.
import boundaries from 'eslint-plugin-boundaries';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      '**/dist/**',
      'examples/*/node_modules/**',
      'node_modules/**',
      'mcp-packages/**',
      '.data/**',
      '.nx/**',
      'coverage/**',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  {
    files: ['**/*.ts'],
    extends: [tseslint.configs.base],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { boundaries },
    settings: {
      'import/resolver': { typescript: { project: './tsconfig.json' } },
      'boundaries/include': ['apps/**/*', 'libs/**/*'],
      'boundaries/elements': [
        { type: 'contracts', pattern: 'libs/contracts', mode: 'folder' },
        { type: 'lib', pattern: 'libs/*', mode: 'folder', capture: ['lib'] },
        { type: 'app', pattern: 'apps/*', mode: 'folder', capture: ['app'] },
      ],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': [
        'error',
        { checksVoidReturn: { arguments: false } },
      ],
      '@typescript-eslint/switch-exhaustiveness-check': [
        'error',
        { considerDefaultExhaustiveForUnions: true },
      ],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      'boundaries/no-unknown': 'error',
      'boundaries/element-types': [
        'error',
        {
          default: 'disallow',
          rules: [
            { from: ['contracts'], allow: ['contracts'] },
            { from: ['lib'], allow: ['contracts', 'lib'] },
            { from: ['app'], allow: ['contracts', 'lib', ['app', { app: '${from.app}' }]] },
          ],
        },
      ],
    },
  },
);
