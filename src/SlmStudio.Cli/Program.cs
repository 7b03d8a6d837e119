using SlmStudio.Cli;

var commands = typeof(ICliCommand).Assembly.GetTypes()
    .Where(t => typeof(ICliCommand).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
    .Select(t => (ICliCommand)Activator.CreateInstance(t)!)
    .OrderBy(c => c.Name, StringComparer.Ordinal)
    .ToList();

void PrintOverview()
{
    Console.WriteLine("slm — the SLM Studio engine from the command line\n\nCommands:");
    foreach (var c in commands) Console.WriteLine($"  {c.Name,-18} {c.Summary}");
    Console.WriteLine("\nRun 'slm <command> --help' for the options of a command.");
}

if (args.Length == 0 || args[0] is "--help" or "-h" or "help")
{
    PrintOverview();
    return args.Length == 0 ? 2 : 0;
}

// The longest command name that matches the leading words wins, so "bench train" beats "bench".
var match = commands
    .Select(c => (Command: c, Words: c.Name.Split(' ')))
    .Where(x => x.Words.Length <= args.Length && x.Words.SequenceEqual(args.Take(x.Words.Length)))
    .OrderByDescending(x => x.Words.Length)
    .FirstOrDefault();
if (match.Command is null)
{
    var group = commands.Where(c => c.Name.StartsWith(args[0] + " ", StringComparison.Ordinal)).ToList();
    if (group.Count > 0)
        Console.Error.WriteLine($"error: '{args[0]}' needs one of: {string.Join(", ", group.Select(c => c.Name[(args[0].Length + 1)..]))}. Run 'slm {group[0].Name} --help'.");
    else
        Console.Error.WriteLine($"error: unknown command '{args[0]}'. Run 'slm --help' for the list.");
    return 2;
}

var rest = args.Skip(match.Words.Length).ToArray();
if (rest.Contains("--help") || rest.Contains("-h"))
{
    Console.WriteLine(match.Command.Help);
    return 0;
}

// Ctrl+C and SIGTERM ask the command to stop cleanly (training writes a checkpoint first). Not disposed: the
// handlers can fire while the process is exiting.
var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    cts.Cancel();
});
try
{
    return await match.Command.RunAsync(new CliArgs(rest), cts.Token);
}
catch (UsageException e)
{
    Console.Error.WriteLine($"error: {e.Message} Run 'slm {match.Command.Name} --help'.");
    return 2;
}
catch (SlmStudio.Core.EngineException e)
{
    Console.Error.WriteLine($"error: {e.Message}");
    return 1;
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("Cancelled.");
    return 130;
}
