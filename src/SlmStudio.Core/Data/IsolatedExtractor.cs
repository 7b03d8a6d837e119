using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace SlmStudio.Core.Data;

/// <summary>
/// Runs <c>slm extract</c> in a child process with a wall-clock timeout and a memory limit, so that a file that makes
/// a parser hang, recurse without end or allocate without bound costs one child process and becomes a plain
/// <see cref="DataProblem"/>, never a hung or crashed portal.
/// </summary>
public sealed class IsolatedExtractor(string slmDllPath, string? dotnetHost = null)
{
    /// <summary>Exit code of <c>slm extract</c> when the runtime ran out of the memory it was given.</summary>
    public const int OutOfMemoryExitCode = 3;

    public string SlmDllPath { get; } = Path.GetFullPath(slmDllPath);
    public string DotnetHost { get; } = dotnetHost ?? FindDotnetHost();

    /// <summary>Uses the slm.dll beside the running application (the test and web outputs reference the CLI project).</summary>
    public static IsolatedExtractor ForCurrentInstall()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "slm.dll");
        if (!File.Exists(path)) throw new EngineException($"slm.dll was not found in {AppContext.BaseDirectory}; the data reader cannot run in isolation.");
        return new IsolatedExtractor(path);
    }

    public static string FindDotnetHost()
    {
        var current = Environment.ProcessPath;
        if (current is not null && Path.GetFileNameWithoutExtension(current) == "dotnet") return current;
        foreach (var variable in new[] { "DOTNET_HOST_PATH" })
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } host && File.Exists(host)) return host;
        foreach (var variable in new[] { "DOTNET_ROOT", "DOTNET_ROOT_X64" })
            if (Environment.GetEnvironmentVariable(variable) is { Length: > 0 } root && File.Exists(Path.Combine(root, "dotnet"))) return Path.Combine(root, "dotnet");
        var runtimeRoot = Path.GetFullPath(Path.Combine(System.Runtime.InteropServices.RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var candidate = Path.Combine(runtimeRoot, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(candidate) ? candidate : "dotnet";
    }

    public async Task<ExtractedDocument> ExtractAsync(string storedPath, string originalName, ColumnMapping? mapping, DataLimits limits, CancellationToken ct)
    {
        // Cheap checks (size, type, zip bomb) need no isolation and give the same messages without starting a process.
        var check = FileInspector.Inspect(storedPath, originalName, limits);
        if (!check.IsAccepted) return ExtractedDocument.Failed(originalName, check.Kind, [.. check.Problems]);

        var display = SafeFileName.ForDisplay(originalName);
        var output = Path.Combine(Path.GetTempPath(), $"slm-extract-{Guid.NewGuid():N}.json");
        var psi = new ProcessStartInfo(DotnetHost)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            CreateNoWindow = true,
        };
        psi.ArgumentList.Add(SlmDllPath);
        psi.ArgumentList.Add("extract");
        psi.ArgumentList.Add(Path.GetFullPath(storedPath));
        // Arguments cannot carry NUL; the child needs the name only for its extension and messages.
        psi.ArgumentList.Add("--name");
        psi.ArgumentList.Add(originalName.Replace('\0', '\uFFFD'));
        psi.ArgumentList.Add("--out");
        psi.ArgumentList.Add(output);
        if (mapping is not null) { psi.ArgumentList.Add("--mapping"); psi.ArgumentList.Add(mapping.ToString()); }
        psi.ArgumentList.Add("--max-bytes");
        psi.ArgumentList.Add(limits.MaxFileBytes.ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add("--max-uncompressed-bytes");
        psi.ArgumentList.Add(limits.MaxUncompressedBytes.ToString(CultureInfo.InvariantCulture));
        // The GC heap limit makes the runtime throw OutOfMemoryException inside the child; the watchdog below also
        // catches native memory the GC does not see.
        psi.Environment["DOTNET_GCHeapHardLimit"] = "0x" + Math.Max(32L * 1024 * 1024, limits.ParseMemoryBytes).ToString("X", CultureInfo.InvariantCulture);
        psi.Environment["DOTNET_gcServer"] = "0";
        psi.Environment["DOTNET_TieredPGO"] = "0";

        using var process = new Process { StartInfo = psi };
        var stderr = new StringBuilder();
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) if (stderr.Length < 4000) stderr.AppendLine(e.Data); };
        process.OutputDataReceived += (_, _) => { };
        var kindWord = KindWord(check.Kind);
        try
        {
            process.Start();
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();

            bool overMemory = false;
            using var timeout = new CancellationTokenSource(limits.ParseTimeout);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(ct, timeout.Token);
            var exited = process.WaitForExitAsync(linked.Token);
            while (!exited.IsCompleted)
            {
                await Task.WhenAny(exited, Task.Delay(100, CancellationToken.None)).ConfigureAwait(false);
                if (exited.IsCompleted) break;
                try
                {
                    process.Refresh();
                    // Headroom over the managed-heap limit for the runtime's own native memory.
                    if (!process.HasExited && process.WorkingSet64 > limits.ParseMemoryBytes + 128L * 1024 * 1024) { overMemory = true; break; }
                }
                catch (InvalidOperationException) { break; }
            }
            if (overMemory || !exited.IsCompletedSuccessfully)
            {
                Kill(process);
                ct.ThrowIfCancellationRequested();
                if (overMemory) return MemoryProblem();
                return Problem($"This {kindWord} could not be read within {Seconds(limits.ParseTimeout)} seconds, so reading it was stopped. It may be damaged or built in an unusual way. Your other files are not affected.",
                    $"Open it and save it again (for a PDF: 'Print → Save as PDF'), or copy its text into a .txt file and upload that.");
            }
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);

            // The child writes the result atomically as its last act, so a result file means a finished extraction.
            if (File.Exists(output))
            {
                var doc = JsonSerializer.Deserialize<ExtractedDocument>(await File.ReadAllTextAsync(output, CancellationToken.None).ConfigureAwait(false), DatasetVersion.Json)
                    ?? throw new InvalidDataException("empty result");
                return doc with { OriginalName = originalName };
            }
            if (process.ExitCode == OutOfMemoryExitCode || stderr.ToString().Contains("OutOfMemory", StringComparison.Ordinal)) return MemoryProblem();
            return Problem($"The reader stopped unexpectedly while reading this {kindWord} (code {process.ExitCode}). The file may be damaged or built in an unusual way. Your other files are not affected.",
                "Open it and save it again (for a PDF: 'Print → Save as PDF'), or copy its text into a .txt file and upload that.");
        }
        finally
        {
            Kill(process);
            if (File.Exists(output)) File.Delete(output);
        }

        ExtractedDocument MemoryProblem() => Problem(
            $"Reading this {kindWord} needed more than {FileInspector.Megabytes(limits.ParseMemoryBytes)} MB of memory, so it was stopped. It may be damaged or built in an unusual way. Your other files are not affected.",
            "Split it into smaller files, or copy its text into a .txt file and upload that.");

        ExtractedDocument Problem(string message, string fix) =>
            ExtractedDocument.Failed(originalName, check.Kind, new DataProblem(display, null, ProblemSeverity.Error, message, fix));
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException) { }
        catch (System.ComponentModel.Win32Exception) { }
    }

    private static string Seconds(TimeSpan t) => t.TotalSeconds >= 1 ? Math.Round(t.TotalSeconds).ToString(CultureInfo.InvariantCulture) : t.TotalSeconds.ToString("0.##", CultureInfo.InvariantCulture);

    private static string KindWord(DocumentKind kind) => kind switch
    {
        DocumentKind.Pdf => "PDF",
        DocumentKind.Docx => "Word document",
        DocumentKind.Html => "web page",
        DocumentKind.Csv => "CSV file",
        DocumentKind.Jsonl => "JSONL file",
        _ => "file",
    };
}
