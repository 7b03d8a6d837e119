using System.Globalization;
using System.Text.Json;
using SlmStudio.Core.Processes;

namespace SlmStudio.Core.Data;

/// <summary>
/// Reads one file with <c>slm extract</c> in a child process under a wall-clock and a memory limit (see
/// <see cref="SlmLauncher"/>), so that a file that makes a parser hang, recurse without end or allocate without bound
/// costs one child process and becomes a plain <see cref="DataProblem"/>, never a hung or crashed portal.
/// </summary>
public sealed class IsolatedExtractor(SlmLauncher launcher)
{
    /// <summary>Exit code of <c>slm extract</c> when the runtime ran out of the memory it was given.</summary>
    public const int OutOfMemoryExitCode = SlmLauncher.OutOfMemoryExitCode;

    public IsolatedExtractor(string slmDllPath, string? dotnetHost = null) : this(new SlmLauncher(slmDllPath, dotnetHost)) { }

    public string SlmDllPath => launcher.SlmDllPath;
    public string DotnetHost => launcher.DotnetHost;

    /// <summary>Uses the slm.dll beside the running application (the test and web outputs reference the CLI project).</summary>
    public static IsolatedExtractor ForCurrentInstall() => new(SlmLauncher.ForCurrentInstall());

    /// <summary>Kept for callers from before <see cref="SlmLauncher"/>; the launcher owns the search.</summary>
    public static string FindDotnetHost() => SlmLauncher.FindDotnetHost();

    public async Task<ExtractedDocument> ExtractAsync(string storedPath, string originalName, ColumnMapping? mapping, DataLimits limits, CancellationToken ct)
    {
        // Cheap checks (size, type, zip bomb) need no isolation and give the same messages without starting a process.
        var check = FileInspector.Inspect(storedPath, originalName, limits);
        if (!check.IsAccepted) return ExtractedDocument.Failed(originalName, check.Kind, [.. check.Problems]);

        var display = SafeFileName.ForDisplay(originalName);
        var kindWord = KindWord(check.Kind);
        var output = Path.Combine(Path.GetTempPath(), $"slm-extract-{Guid.NewGuid():N}.json");
        try
        {
            var exit = await launcher.ExtractAsync(
                new ExtractArguments(storedPath, originalName, mapping?.ToString(), limits.MaxFileBytes, limits.MaxUncompressedBytes,
                    limits.ParseTimeout, limits.ParseMemoryBytes),
                output, ct).ConfigureAwait(false);
            if (exit.OverTime)
                return Problem($"This {kindWord} could not be read within {Seconds(limits.ParseTimeout)} seconds, so reading it was stopped. It may be damaged or built in an unusual way. Your other files are not affected.",
                    $"Open it and save it again (for a PDF: 'Print → Save as PDF'), or copy its text into a .txt file and upload that.");
            if (exit.EndedBy == EndReason.OverMemory) return MemoryProblem();

            // The child writes the result atomically as its last act, so a result file means a finished extraction.
            if (File.Exists(output))
            {
                var doc = JsonSerializer.Deserialize<ExtractedDocument>(await File.ReadAllTextAsync(output, CancellationToken.None).ConfigureAwait(false), DatasetVersion.Json)
                    ?? throw new InvalidDataException("empty result");
                return doc with { OriginalName = originalName };
            }
            if (exit.RanOutOfMemory) return MemoryProblem();
            return Problem($"The reader stopped unexpectedly while reading this {kindWord} (code {exit.ExitCode}). The file may be damaged or built in an unusual way. Your other files are not affected.",
                "Open it and save it again (for a PDF: 'Print → Save as PDF'), or copy its text into a .txt file and upload that.");
        }
        finally
        {
            if (File.Exists(output)) File.Delete(output);
        }

        ExtractedDocument MemoryProblem() => Problem(
            $"Reading this {kindWord} needed more than {FileInspector.Megabytes(limits.ParseMemoryBytes)} MB of memory, so it was stopped. It may be damaged or built in an unusual way. Your other files are not affected.",
            "Split it into smaller files, or copy its text into a .txt file and upload that.");

        ExtractedDocument Problem(string message, string fix) =>
            ExtractedDocument.Failed(originalName, check.Kind, new DataProblem(display, null, ProblemSeverity.Error, message, fix));
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
