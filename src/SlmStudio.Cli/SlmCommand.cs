using System.CommandLine;

namespace SlmStudio.Cli;

/// <summary>
/// One <c>slm</c> command. <see cref="Command.Description"/> is the one-line summary shown in command lists; the
/// options' own descriptions make the option table of <c>--help</c>; <see cref="Notes"/> is the prose printed after it
/// (what the command writes, exit codes), so each fact about a command is written once.
/// </summary>
public abstract class SlmCommand : Command
{
    protected SlmCommand(string name, string summary, string notes) : base(name, summary)
    {
        Notes = notes;
        SetAction(RunAsync);
    }

    public string Notes { get; }

    /// <summary>Runs with options the parser has already checked; returns the exit code.</summary>
    protected abstract Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken);
}
