// typescript-eslint's strict, type-checked rules over src/ and test/ (`npm run lint`).
// Where a rule is tuned, the reason is beside it.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['build/**', 'node_modules/**', 'native/**', 'bench/**', 'scripts/**', 'examples/**', '**/*.mjs', 'grammar/**'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  { languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } } },
  {
    rules: {
      // Numbers in log lines and messages are the daemon's daily bread; objects, undefined and
      // null in a template are still refused.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      // `(x) => resolve(x)` returning a void call is an idiom, not a confusion.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // A getter in an object literal (a live view of the daemon's state handed to a part) has
      // the literal as its `this`; the instance it reads is named `self`, and only that name.
      '@typescript-eslint/no-this-alias': ['error', { allowedNames: ['self'] }],
      // `const { a: _, ...rest } = o` is how a copy of `o` without `a` is written.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      // node:test's test() and describe() return promises that the runner itself awaits.
      '@typescript-eslint/no-floating-promises': [
        'error',
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] },
      ],
      // A test states what it expects to exist; a wrong `!` fails the test at once.
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Fakes of asynchronous interfaces (resolvers, readers) are written `async` without an
      // await so that what they throw rejects, as the real ones' failures do.
      '@typescript-eslint/require-await': 'off',
    },
  },
);
