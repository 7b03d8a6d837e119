using System.Text.Json;
using SlmStudio.Core;
using SlmStudio.Core.Data;

namespace SlmStudio.Cli.Commands;

/// <summary>
/// The isolated half of data extraction: reads one file and writes the result as JSON. The portal and
/// <c>slm prepare</c> start it as a child process (see <see cref="IsolatedExtractor"/>) so that a parser that hangs or
/// runs out of memory takes only this process down.
/// </summary>
public sealed class ExtractCommand : ICliCommand
{
    public string Name => "extract";
    public string Summary => "Extract the text of one file to JSON (used internally, in a separate process)";
    public string Help => """
        slm extract <stored file> --name <original name> --out <result.json> [--mapping <roles>]
                    [--max-bytes N] [--max-uncompressed-bytes N]

        Reads one uploaded file (TXT, MD, PDF, DOCX, CSV, JSONL, HTML) and writes an ExtractedDocument as JSON: its
        text records, statistics and every problem found, in plain English. This is an internal command: SLM Studio
        runs it in a child process with a time and memory limit, so that a damaged or hostile file cannot hang or
        crash the portal. Use 'slm prepare' to build a dataset.

          <stored file>             the file as stored on disk (any name)
          --name                    the file's original name: decides the type by its extension and appears in messages
          --out                     where to write the JSON result (written atomically)
          --mapping                 for CSV/JSONL: which columns mean what, e.g. text=body or text=body,label=category
                                    or prompt=question,response=answer (default: a guess from the columns)
          --max-bytes               largest file accepted (default 100 MB)
          --max-uncompressed-bytes  largest size a DOCX may expand to (default 300 MB)

        Exit codes: 0 result written (it may list problems), 2 wrong arguments, 3 out of memory.
        """;

    public async Task<int> RunAsync(CliArgs args, CancellationToken cancellationToken)
    {
        if (args.Positional.Count < 1) throw new UsageException("Give the file to extract.");
        var path = args.Positional[0];
        var name = args.String("name") ?? Path.GetFileName(path);
        var output = args.Required("out");
        ColumnMapping? mapping = null;
        if (args.String("mapping") is { } spec)
        {
            try { mapping = ColumnMapping.Parse(spec); }
            catch (FormatException e) { throw new UsageException($"--mapping: {e.Message}"); }
        }
        var limits = DataLimits.Default;
        if (args.String("max-bytes") is { } maxBytes) limits = limits with { MaxFileBytes = ParseLong("max-bytes", maxBytes) };
        if (args.String("max-uncompressed-bytes") is { } maxUnc) limits = limits with { MaxUncompressedBytes = ParseLong("max-uncompressed-bytes", maxUnc) };
        args.EnsureAllUsed(1);

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

    private static long ParseLong(string option, string value) =>
        long.TryParse(value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var v) && v > 0
            ? v : throw new UsageException($"--{option} must be a positive whole number of bytes (got '{value}').");
}
