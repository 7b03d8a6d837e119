namespace SlmStudio.Cli;

/// <summary>One <c>slm</c> command. Implementations are found by reflection, so a new command is a new file.</summary>
public interface ICliCommand
{
    /// <summary>The word after <c>slm</c>; "bench train" style names are sub-commands of <c>slm bench</c>.</summary>
    string Name { get; }
    string Summary { get; }
    /// <summary>Full help: usage line and options.</summary>
    string Help { get; }
    Task<int> RunAsync(CliArgs args, CancellationToken cancellationToken);
}
