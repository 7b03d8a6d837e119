using System.CommandLine;
using System.Text.Json;
using SlmStudio.Core;
using SlmStudio.Core.Data;
using static SlmStudio.Cli.CliOptions;

namespace SlmStudio.Cli.Commands;

/// <summary>
/// The isolated half of data extraction: reads one file and writes the result as JSON. The portal and
/// <c>slm prepare</c> start it as a child process (see <see cref="IsolatedExtractor"/>) so that a parser that hangs or
/// runs out of memory takes only this process down.
/// </summary>
public sealed class ExtractCommand : SlmCommand
{
    private readonly Argument<string?> _file = OptionalArgument("stored file", "the file as stored on disk (any name)");
    private readonly Option<string?> _name = Text("--name", "original name", "the file's original name: decides the type by its extension and appears in messages");
    private readonly Option<string?> _out = Text("--out", "result.json", "where to write the JSON result (written atomically)", required: true);
    private readonly Option<string?> _mapping = Text("--mapping", "roles",
        "for CSV/JSONL: which columns mean what, e.g. text=body or text=body,label=category or prompt=question,response=answer (default: a guess from the columns)");
    private readonly Option<long?> _maxBytes = Bytes("--max-bytes", $"largest file accepted (default {DataLimits.Default.MaxFileBytes / (1024 * 1024)} MB)");
    private readonly Option<long?> _maxUncompressed = Bytes("--max-uncompressed-bytes", $"largest size a DOCX may expand to (default {DataLimits.Default.MaxUncompressedBytes / (1024 * 1024)} MB)");

    public ExtractCommand() : base("extract", "Extract the text of one file to JSON (used internally, in a separate process)", """
        Reads one uploaded file (TXT, MD, PDF, DOCX, CSV, JSONL, HTML) and writes an ExtractedDocument as JSON: its
        text records, statistics and every problem found, in plain English. This is an internal command: SLM Studio
        runs it in a child process with a time and memory limit, so that a damaged or hostile file cannot hang or
        crash the portal. Use 'slm prepare' to build a dataset.

        Exit codes: 0 result written (it may list problems), 2 wrong arguments, 3 out of memory.
        """)
    {
        Arguments.Add(_file);
        foreach (var option in new Option[] { _name, _out, _mapping, _maxBytes, _maxUncompressed }) Options.Add(option);
    }

    protected override async Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var path = parsed.GetValue(_file) ?? throw new UsageException("Give the file to extract.");
        var name = parsed.GetValue(_name) ?? Path.GetFileName(path);
        var output = parsed.GetValue(_out)!;
        var mapping = ParseMapping(parsed.GetValue(_mapping));
        var limits = DataLimits.Default;
        if (parsed.GetValue(_maxBytes) is { } maxBytes) limits = limits with { MaxFileBytes = maxBytes };
        if (parsed.GetValue(_maxUncompressed) is { } maxUnc) limits = limits with { MaxUncompressedBytes = maxUnc };

        // Parsers in lenient mode may catch an OutOfMemoryException and carry on with a page missing; the result would
        // then wrongly read "no text". Any out-of-memory seen at all means the memory limit was hit.
        var outOfMemory = false;
        AppDomain.CurrentDomain.FirstChanceException += (_, e) => { if (e.Exception is OutOfMemoryException) outOfMemory = true; };
        try
        {
            var doc = await DocumentExtractor.ExtractAsync(path, name, mapping, limits, cancellationToken);
            if (outOfMemory) throw new OutOfMemoryException();
            AtomicFile.Write(output, temp =>
            {
                using var stream = File.Create(temp);
                JsonSerializer.Serialize(stream, doc, DatasetVersion.Json);
            });
            return 0;
        }
        catch (Exception e) when (e is OutOfMemoryException or InsufficientExecutionStackException)
        {
            Console.Error.WriteLine($"error: out of memory while reading the file ({e.GetType().Name}).");
            return IsolatedExtractor.OutOfMemoryExitCode;
        }
    }

    /// <summary>Reads a --mapping value; a malformed one is a usage error (exit code 2).</summary>
    internal static ColumnMapping? ParseMapping(string? spec)
    {
        if (spec is null) return null;
        try { return ColumnMapping.Parse(spec); }
        catch (FormatException e) { throw new UsageException($"--mapping: {e.Message}"); }
    }
}
