using System.Collections.Concurrent;
using System.Diagnostics;

namespace SlmStudio.Web.Tests.Scale;

/// <summary>
/// The portal as a separate operating-system process (<c>dotnet SlmStudio.Web.dll</c>, as a server runs it), with its
/// settings as environment variables: a real worker that can be killed with SIGKILL, unlike a host inside the test.
/// </summary>
public sealed class StudioProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private StudioProcess(Process process) => _process = process;

    public int ProcessId => _process.Id;
    public bool HasExited => _process.HasExited;

    /// <summary>What the process wrote so far (its log), for assertions and failure messages.</summary>
    public string Output => string.Join('\n', _output);

    /// <param name="contentRoot">Its content root: relative paths (jobs/, models/) resolve here, so processes given the
    /// same folder share their files as workers on a network file system do.</param>
    /// <param name="settings">Configuration keys ("Studio:Role") and values.</param>
    public static StudioProcess Start(string contentRoot, IReadOnlyDictionary<string, string?> settings)
    {
        var portal = Path.Combine(AppContext.BaseDirectory, "SlmStudio.Web.dll");
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { portal },
            WorkingDirectory = contentRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["SLMSTUDIO_CONTENT_ROOT"] = contentRoot;
        start.Environment["DOTNET_ENVIRONMENT"] = "Testing";
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Testing";
        foreach (var (key, value) in settings) start.Environment[key.Replace(":", "__")] = value;
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var studio = new StudioProcess(process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) studio._output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) studio._output.Enqueue(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return studio;
    }

    /// <summary>kill -9: no shutdown, no cleanup, exactly what a crashed machine or the out-of-memory killer does. Only
    /// this process: its trainer is left running as an orphan, as it would be after a real crash.</summary>
    public async Task KillHardAsync()
    {
        using (var kill = Process.Start("kill", ["-9", ProcessId.ToString()])) await kill.WaitForExitAsync();
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
