import js from "@eslint/js";
import tseslint from "typescript-eslint";
import globals from "globals";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "scratch/", "coverage/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { ...globals.node },
    },
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-restricted-imports": [
        "error",
        { paths: [{ name: "kysely", message: "take Kysely's values from src/store/kysely.ts (one module instance, faster start)", allowTypeImports: true }] },
      ],
    },
  },
  // The web UI runs in the browser (and its graph layout in a web worker).
  { files: ["src/ui/**"], languageOptions: { globals: { ...globals.browser, ...globals.worker } } },
  { files: ["src/store/kysely.ts"], rules: { "@typescript-eslint/no-restricted-imports": "off" } },
);
