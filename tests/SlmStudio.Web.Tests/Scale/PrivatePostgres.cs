using System.Diagnostics;
using System.Text.RegularExpressions;

namespace SlmStudio.Web.Tests.Scale;

/// <summary>
/// A PostgreSQL cluster of one test's own (.ci/postgres-start on a port of its own), for tests that restart the server:
/// restarting the shared test server would cut every other test's connections.
/// </summary>
public sealed partial class PrivatePostgres : IAsyncDisposable
{
    private readonly string _directory;

    public string ConnectionString { get; }

    private PrivatePostgres(string connectionString, string directory) => (ConnectionString, _directory) = (connectionString, directory);

    private static string Script => Path.Combine(StudioHost.FindContentRoot(), ".ci", "postgres-start");

    public static async Task<PrivatePostgres> StartAsync()
    {
        var started = await RunAsync(Script, [], new() { ["PGPORT"] = "56432", ["SLM_TEST_POSTGRES_DB"] = "slm_private" });
        var connection = ExportLine().Matches(started).Single(m => m.Groups[1].Value == "SLM_TEST_POSTGRES").Groups[2].Value;
        var directory = ExportLine().Matches(started).Single(m => m.Groups[1].Value == "SLM_TEST_POSTGRES_DIR").Groups[2].Value;
        return new PrivatePostgres(connection, directory);
    }

    /// <summary>pg_ctl restart with a fast shutdown: every open connection is cut, as in a real restart.</summary>
    public Task RestartAsync() => RunAsync(Script, ["--restart", _directory]);

    public async ValueTask DisposeAsync()
    {
        Npgsql.NpgsqlConnection.ClearAllPools();
        await RunAsync(Script, ["--stop", _directory]);
    }

    private static async Task<string> RunAsync(string file, string[] arguments, Dictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var (key, value) in environment ?? []) start.Environment[key] = value;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed ({process.ExitCode}): {await stderr}");
        return await stdout;
    }

    [GeneratedRegex("^export (\\w+)='([^']*)'$", RegexOptions.Multiline)]
    private static partial Regex ExportLine();
}
