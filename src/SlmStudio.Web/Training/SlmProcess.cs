using System.Diagnostics;
using System.Text;

namespace SlmStudio.Web.Training;

/// <summary>Result of one <c>slm</c> child process.</summary>
public sealed record SlmProcessResult(int ExitCode, string StandardErrorTail);

/// <summary>
/// Runs <c>dotnet slm.dll ...</c> as a child process so that a native crash or out-of-memory ends that process, not the
/// portal. Each stdout line is handed to <paramref name="onLine"/> as it arrives.
/// </summary>
public static class SlmProcess
{
    public static async Task<SlmProcessResult> RunAsync(
        string slmDll, IReadOnlyList<string> arguments, Func<string, Task> onLine, CancellationToken cancellationToken,
        string? workingDirectory = null)
    {
        if (!File.Exists(slmDll))
            throw new FileNotFoundException($"The training engine (slm.dll) was not found at {slmDll}. Rebuild the portal.", slmDll);

        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            WorkingDirectory = workingDirectory ?? Path.GetDirectoryName(slmDll)!,
        };
        psi.ArgumentList.Add(slmDll);
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";

        using var process = new Process { StartInfo = psi };
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr)
            {
                stderr.AppendLine(e.Data);
                if (stderr.Length > 8000) stderr.Remove(0, stderr.Length - 8000);
            }
        };
        process.Start();
        process.BeginErrorReadLine();

        // Cancellation here means "stop now" (the caller asks the trainer politely first via the CANCEL file).
        await using var kill = cancellationToken.Register(() =>
        {
            try { if (!process.HasExited) process.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        });

        while (await process.StandardOutput.ReadLineAsync(CancellationToken.None) is { } line)
            await onLine(line);
        await process.WaitForExitAsync(CancellationToken.None);
        string tail;
        lock (stderr) tail = stderr.ToString().Trim();
        return new SlmProcessResult(process.ExitCode, tail);
    }
}
