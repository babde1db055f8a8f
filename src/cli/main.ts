import { Command, InvalidArgumentError } from 'commander';
import { ConfigError, loadConfigFile } from '../config/index.js';
import { registerAccessCommands } from './access-commands.js';
import { registerAgreementsCommands } from './agreements-commands.js';
import { registerBillingCommands } from './billing-commands.js';
import { registerCommitmentsCommand } from './commitments-command.js';
import { registerOperationsCommands } from './operations-commands.js';
import { registerWhatIfCommand } from './whatif-command.js';

/** The `switchyard` command. */
export function buildCli(): Command {
  const program = new Command('switchyard')
    .description('Any model, any cloud, one endpoint.')
    .showHelpAfterError();

  program
    .command('serve')
    .description('run the gateway (sandbox clouds when no config is found)')
    .option('-c, --config <file>', 'config file (default ./switchyard.yaml or $SWITCHYARD_CONFIG)')
    .option('--sandbox', 'ignore any config and serve the emulated sandbox clouds')
    .option(
      '--sandbox-down <cloud...>',
      'start with these sandbox clouds down (azure, openai, ...)',
    )
    .option('--token-delay-ms <ms>', 'sandbox: delay between streamed tokens', integer)
    .option('-p, --port <port>', 'listen port (overrides server.port)', integer)
    .option('-H, --host <host>', 'listen address (overrides server.host)')
    .action(
      async (options: {
        config?: string;
        sandbox?: boolean;
        sandboxDown?: string[];
        tokenDelayMs?: number;
        port?: number;
        host?: string;
      }) => {
        // Loaded on demand: `config check` and the admin commands start without the whole gateway.
        const { serve } = await import('../main.js');
        await serve(options);
      },
    );

  const config = program.command('config').description('work with config files');
  config
    .command('check <file>')
    .description('validate a config file and print every error with the path of the bad field')
    .action((file: string) => {
      try {
        const loaded = loadConfigFile(file);
        const models = Object.keys(loaded.models).length;
        const providers = Object.keys(loaded.providers).length;
        process.stdout.write(`${file}: ok (${providers} providers, ${models} models)\n`);
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        for (const problem of error.problems)
          process.stdout.write(`${file}: ${problem.path}: ${problem.message}\n`);
        process.exitCode = 1;
      }
    });

  registerAccessCommands(program);
  registerOperationsCommands(program);
  registerBillingCommands(program);
  registerCommitmentsCommand(program);
  registerWhatIfCommand(program);
  registerAgreementsCommands(program);

  return program;
}

function integer(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new InvalidArgumentError('expected a non-negative integer');
  return parsed;
}

await buildCli().parseAsync(process.argv);
