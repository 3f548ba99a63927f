/**
 * The import rules of ptbench (docs/architecture.md), checked in CI by `npm run lint:imports`, over
 * src/ and again over the compiled dist/src/ (where only the cycle rule applies: the path rules name
 * src/). Type-only imports are erased at compile time, so cycles count only runtime imports; the
 * linter makes every type-only import an `import type`, so none compiles to a bare `import {}`.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-runtime-cycle',
      severity: 'error',
      comment: 'A runtime import cycle: modules that load each other.',
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'cli-imports-no-cli',
      severity: 'error',
      comment: 'A src/cli/ file parses arguments and prints; only main.ts imports the other commands. Option groups every command shares live in src/cli/options/.',
      from: { path: '^src/cli/', pathNot: '^src/cli/main\\.ts$' },
      to: { path: '^src/cli/', pathNot: '^src/cli/options/' },
    },
    {
      name: 'nothing-imports-cli',
      severity: 'error',
      comment: 'The command line is the top layer.',
      from: { path: '^src/', pathNot: '^src/cli/' },
      to: { path: '^src/cli/' },
    },
    {
      name: 'harness-above-workload',
      severity: 'error',
      comment: 'Imports run one way: cli -> harness -> workload -> smp -> share/tlb -> mm -> arch.',
      from: { path: '^src/(workload|share|tlb|smp|mm|arch|lib)/' },
      to: { path: '^src/harness/' },
    },
    {
      name: 'workload-above-designs',
      severity: 'error',
      from: { path: '^src/(share|tlb|smp|mm|arch|lib)/' },
      to: { path: '^src/workload/' },
    },
    {
      name: 'mm-imports-no-design',
      severity: 'error',
      comment: 'mm defines the sharing hook table (src/mm/pt_share.ts); designs in src/share/ implement it.',
      from: { path: '^src/(mm|arch|lib)/' },
      to: { path: '^src/(share|tlb|smp)/' },
    },
    {
      name: 'designs-and-tlb-below-smp',
      severity: 'error',
      comment: 'Designs (src/share) and the TLB hardware model (src/tlb) sit on mm; simulated CPUs (src/smp) run above them.',
      from: { path: '^src/(share|tlb)/' },
      to: { path: '^src/(smp|share|tlb)/', pathNot: '^src/$1/' },
    },
    {
      name: 'arch-is-the-bottom',
      severity: 'error',
      from: { path: '^src/arch/' },
      to: { path: '^src/(?!arch/)' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js'] },
  },
};
