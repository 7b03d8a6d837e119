using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using SlmStudio.Cli.Commands;

namespace SlmStudio.Cli;

/// <summary>
/// The <c>slm</c> command tree and how a run ends: 0 on success, 2 with one line for wrong arguments, 1 with one line
/// for anything that goes wrong inside (never a stack trace), 130 when cancelled; a command may return its own codes
/// (<c>extract</c>: 3 for out of memory). The portal starts <c>slm train</c>, <c>slm extract</c> and
/// <c>slm export</c> as child processes, so command and option names are an interface: do not rename them.
/// </summary>
public static class SlmCommandLine
{
    public const int UsageExitCode = 2;
    public const int FailureExitCode = 1;
    public const int CancelledExitCode = 130;

    public static RootCommand Build()
    {
        var root = new RootCommand("slm — the SLM Studio engine from the command line");
        var bench = new Command("bench", "Measure this machine: training, tokenizer and generation speed.");
        bench.Subcommands.Add(new BenchGenerateCommand());
        bench.Subcommands.Add(new BenchTokenizerCommand());
        bench.Subcommands.Add(new BenchTrainCommand());
        bench.Subcommands.Add(new BenchLoraCommand());
        bench.Subcommands.Add(new BenchAskCommand());
        bench.Subcommands.Add(new BenchChatCommand());
        bench.Subcommands.Add(new BenchClassifyCommand());
        root.Subcommands.Add(bench);
        root.Subcommands.Add(new AskCommand());
        root.Subcommands.Add(new ChatCommand());
        root.Subcommands.Add(new ClassifyCommand());
        root.Subcommands.Add(new EvalCommand());
        root.Subcommands.Add(new ExportCommand());
        root.Subcommands.Add(new ExtractCommand());
        root.Subcommands.Add(new GenerateCommand());
        root.Subcommands.Add(new ImportCommand());
        root.Subcommands.Add(new PrepareCommand());
        root.Subcommands.Add(new TrainCommand());
        var help = root.Options.OfType<HelpOption>().Single();
        help.Action = new SlmHelpAction((HelpAction)help.Action!);
        return root;
    }

    /// <summary>Parses and runs one command line; everything it prints goes to <see cref="Console"/>.</summary>
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var root = Build();
        if (args.Length == 0)
        {
            PrintOverview(root, Console.Out);
            return UsageExitCode;
        }
        if (args is ["help"]) args = ["--help"];

        // '@file' would otherwise be read as a response file: a prompt or an uploaded file's name may start with '@'.
        var parsed = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        var asksForHelp = parsed.Action is SlmHelpAction;
        if (parsed.Errors.Count > 0 && !asksForHelp)
        {
            Console.Error.WriteLine($"error: {UsageError(parsed)}");
            return UsageExitCode;
        }
        try
        {
            // Ctrl+C and SIGTERM are handled by Program (training writes a checkpoint before it stops, which can take
            // longer than the library's grace period), and errors are reported below as one line.
            var invocation = new InvocationConfiguration
            {
                EnableDefaultExceptionHandler = false,
                ProcessTerminationTimeout = null,
                Output = Console.Out,
                Error = Console.Error,
            };
            return await parsed.InvokeAsync(invocation, cancellationToken);
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"error: {OneLine(e.Message)} Run 'slm {CommandPath(parsed.CommandResult.Command)} --help'.");
            return UsageExitCode;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Console.Error.WriteLine("Cancelled.");
            return CancelledExitCode;
        }
        catch (SlmStudio.Core.EngineException e)
        {
            Console.Error.WriteLine($"error: {OneLine(e.Message)}");
            return FailureExitCode;
        }
        catch (Exception e)
        {
            // Not an engine error with a message written for people: say what happened in one line, without the trace.
            Console.Error.WriteLine($"error: {OneLine(e.Message)} ({e.GetType().Name}). If this keeps happening, please report it.");
            return FailureExitCode;
        }
    }

    /// <summary>The first problem with the command line, as one line that says how to get help.</summary>
    private static string UsageError(ParseResult parsed)
    {
        var command = parsed.CommandResult.Command;
        if (command.Action is null && command.Subcommands.Count > 0)
        {
            // "slm frobnicate", "slm bench" or "slm bench frobnicate": no command to run.
            if (command is RootCommand)
                return $"unknown command '{parsed.UnmatchedTokens.FirstOrDefault() ?? parsed.Tokens.FirstOrDefault()?.Value}'. Run 'slm --help' for the list.";
            var first = command.Subcommands.OrderBy(c => c.Name, StringComparer.Ordinal).First();
            return $"'{command.Name}' needs one of: {string.Join(", ", command.Subcommands.Select(c => c.Name).Order(StringComparer.Ordinal))}. Run 'slm {CommandPath(first)} --help'.";
        }
        var unmatched = parsed.UnmatchedTokens.FirstOrDefault();
        var message = unmatched is null ? parsed.Errors[0].Message
            : unmatched.StartsWith('-') ? $"Unknown option {unmatched}."
            : $"Unexpected argument '{unmatched}'.";
        return $"{OneLine(message)} Run 'slm {CommandPath(command)} --help'.";
    }

    private static string OneLine(string text) => string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>"bench train" for the train command under bench.</summary>
    public static string CommandPath(Command command) =>
        command is RootCommand ? "" : string.Join(' ', Ancestors(command).Reverse().Select(c => c.Name));

    private static IEnumerable<Command> Ancestors(Command command)
    {
        for (Command? c = command; c is not null and not RootCommand; c = c.Parents.OfType<Command>().FirstOrDefault()) yield return c;
    }

    /// <summary>Every runnable command with its summary, "bench train" style, as <c>slm --help</c> has always shown.</summary>
    private static void PrintOverview(RootCommand root, TextWriter output)
    {
        output.WriteLine($"{root.Description}\n\nCommands:");
        foreach (var command in Runnable(root).OrderBy(CommandPath, StringComparer.Ordinal))
            output.WriteLine($"  {CommandPath(command),-18} {command.Description}");
        output.WriteLine("\nRun 'slm <command> --help' for the options of a command.");
    }

    private static IEnumerable<Command> Runnable(Command command) =>
        command.Subcommands.SelectMany(c => c.Action is null ? Runnable(c) : [c]);

    /// <summary>The library's help (usage, arguments, options) followed by the command's own notes; the overview for
    /// <c>slm --help</c>.</summary>
    private sealed class SlmHelpAction(HelpAction standard) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            var output = parseResult.InvocationConfiguration.Output;
            if (parseResult.CommandResult.Command is RootCommand root)
            {
                PrintOverview(root, output);
                return 0;
            }
            standard.MaxWidth = 120;
            standard.Invoke(parseResult);
            if (parseResult.CommandResult.Command is SlmCommand { Notes.Length: > 0 } command)
                output.WriteLine(command.Notes.TrimEnd());
            return 0;
        }
    }
}
