using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using SlmStudio.Core;
using SlmStudio.Core.Data;
using SlmStudio.Core.Retrieval;

using static SlmStudio.Cli.CliOptions;
namespace SlmStudio.Cli.Commands;

/// <summary>Extracts, cleans and freezes a folder of documents as a dataset version, as the portal's Data step does.</summary>
public sealed class PrepareCommand : SlmCommand
{
    private static readonly DatasetSettings Defaults = new();

    private readonly Option<string?> _data = Text("--data", "file|folder", "a file or a folder of files", required: true);
    private readonly Option<string?> _out = Text("--out", "datasets root", "the folder that holds dataset versions", required: true);
    private readonly Option<bool> _noRedact = Flag("--no-redact", "keep personal data as it is (redaction is on by default)");
    private readonly Option<bool> _keepDuplicates = Flag("--keep-duplicates", "keep exact and near-duplicate paragraphs/rows");
    private readonly Option<int?> _seed = Int("--seed", "N", $"seed of the train/validation split (default {Defaults.Seed})");
    private readonly Option<double?> _validation = Double("--validation", "F",
        string.Create(CultureInfo.InvariantCulture, $"share of records for validation, 0 to 0.5 (default {Defaults.ValidationFraction})"), 0, 0.5);
    private readonly Option<string?> _mapping = Text("--mapping", "roles", "for CSV/JSONL: text=col[,label=col] or prompt=col,response=col (default: a guess)");
    private readonly Option<string?> _task = Choice("--task",
        "what the data is for: text (write like us), classification (sort and route: needs labels), qa (answer questions: needs prompt/response), or auto from the data (default)",
        "auto", "text", "classification", "qa");
    private readonly Option<int?> _timeoutSeconds = Int("--timeout-seconds", "N", $"time limit for reading one file (default {DataLimits.Default.ParseTimeout.TotalSeconds})", 1, 3600);
    private readonly Option<string?> _isolate = Choice("--isolate", "read files in a separate process: risky (PDF, DOCX, HTML; default), all, or none", "risky", "all", "none");

    public PrepareCommand() : base("prepare", "Turn documents into a frozen, hashed dataset version (train/validation split)", """
        Reads TXT, MD, PDF, DOCX, CSV, JSONL and HTML files (a folder is read with its sub-folders), removes duplicate
        paragraphs/rows, replaces personal data (e-mail addresses, phone numbers, IBANs, card numbers, national ID
        numbers) with placeholders such as [EMAIL], splits the records into training and validation sets and freezes
        them as <out>/<id>/ with train.txt, val.txt (and train.jsonl/val.jsonl for labelled or question-answer data)
        and dataset.json (content hash, source files and their SHA-256, settings, statistics). The same data and
        settings always give the same id; an existing version is never rewritten. The version also gets its documents
        split into passages (passages.jsonl, hashed in dataset.json) and a search index of them (search-index/) for
        'slm ask'; a version frozen before that gets them added, with the same id and training files.

        Prints a summary, every problem found (file, row, what is wrong, what to do) and the dataset folder.
        Exit codes: 0 dataset written, 1 nothing usable, 2 wrong arguments.
        """)
    {
        foreach (var option in new Option[] { _data, _out, _noRedact, _keepDuplicates, _seed, _validation, _mapping, _task, _timeoutSeconds, _isolate })
            Options.Add(option);
    }

    protected override async Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var data = parsed.GetValue(_data)!;
        var root = parsed.GetValue(_out)!;
        var settings = Defaults with
        {
            RedactPersonalData = !parsed.GetValue(_noRedact),
            RemoveDuplicates = !parsed.GetValue(_keepDuplicates),
            Seed = parsed.GetValue(_seed) ?? Defaults.Seed,
            ValidationFraction = parsed.GetValue(_validation) ?? Defaults.ValidationFraction,
            Task = parsed.GetValue(_task) switch
            {
                "text" => DatasetTask.Text,
                "classification" => DatasetTask.Classification,
                "qa" => DatasetTask.QuestionAnswer,
                _ => null,
            },
        };
        var mapping = ExtractCommand.ParseMapping(parsed.GetValue(_mapping));
        var limits = parsed.GetValue(_timeoutSeconds) is { } seconds ? DataLimits.Default with { ParseTimeout = TimeSpan.FromSeconds(seconds) } : DataLimits.Default;
        var isolate = parsed.GetValue(_isolate) ?? "risky";

        var files = Directory.Exists(data)
            ? Directory.EnumerateFiles(data, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.Hidden | FileAttributes.System })
                .Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal).ToList()
            : File.Exists(data) ? [data] : throw new EngineException($"'{data}' is neither a file nor a folder.");
        if (files.Count == 0) throw new EngineException($"The folder '{data}' holds no files.");

        var isolated = isolate == "none" ? null : new IsolatedExtractor(Path.Combine(AppContext.BaseDirectory, "slm.dll"));
        var watch = Stopwatch.StartNew();
        long totalBytes = files.Sum(f => new FileInfo(f).Length);
        var uploads = files.Select(f => new UploadedFile(f, Directory.Exists(data) ? Path.GetRelativePath(data, f) : Path.GetFileName(f), mapping)).ToList();
        var extractProgress = new SyncProgress(p =>
        {
            if (p.File is not null) Console.Error.WriteLine($"[{p.Done}/{p.Total}] {SafeFileName.ForDisplay(p.File)}");
        });
        var docs = await BatchExtractor.ExtractAllAsync(uploads, isolated, limits, extractProgress, cancellationToken, isolateAll: isolate == "all");
        var extractSeconds = watch.Elapsed.TotalSeconds;

        var progress = new SyncProgress(p => Console.Error.WriteLine($"  {p.Stage}: {p.Done}/{p.Total}"));
        PreparationReview review;
        try
        {
            review = DatasetBuilder.Review(docs, settings, progress, cancellationToken);
        }
        catch (EngineException e)
        {
            PrintProblems(docs.SelectMany(d => d.Problems).ToList());
            Console.Error.WriteLine($"error: {e.Message}");
            return 1;
        }
        // Only the search steps report while freezing: writing the split is quick.
        var freezeProgress = new SyncProgress(p => { if (p.Stage is "passages" or "index") progress.Report(p); });
        var version = DatasetSearch.Freeze(review, settings, root, freezeProgress, cancellationToken);
        var totalSeconds = watch.Elapsed.TotalSeconds;

        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine($"Files read:          {docs.Count(d => d.IsUsable)} of {files.Count} ({totalBytes / 1048576.0:0.0} MB)".ToString(inv));
        foreach (var d in docs)
            Console.WriteLine($"  {d.DisplayName,-40} {d.Kind,-9} {d.Stats.Records,7} records {d.Stats.Characters,11:N0} chars{(d.IsUsable ? "" : "  NOT USED")}");
        Console.WriteLine($"Records:             {version.Total.Records:N0} ({version.Train.Records:N0} train, {version.Validation.Records:N0} validation)");
        Console.WriteLine($"Characters:          {version.Total.Characters:N0} (about {version.Total.EstimatedTokens:N0} tokens)");
        if (version.Total.LabelCounts.Count > 0)
            Console.WriteLine($"Labels:              {string.Join(", ", version.Total.LabelCounts.Select(kv => $"{kv.Key} {kv.Value}"))}");
        Console.WriteLine(settings.RemoveDuplicates
            ? $"Duplicates removed:  {version.ExactDuplicatesRemoved:N0} exact, {version.NearDuplicatesRemoved:N0} near-duplicates"
            : "Duplicates:          kept (--keep-duplicates)");
        Console.WriteLine(settings.RedactPersonalData
            ? $"Personal data:       {(version.RedactionCounts.Count == 0 ? "none found" : string.Join(", ", version.RedactionCounts.Select(kv => $"{kv.Value} {kv.Key}")))} (replaced by placeholders)"
            : "Personal data:       not redacted (--no-redact)");
        foreach (var f in review.RedactionFindings.Take(10))
            Console.WriteLine($"  {f.Kind,-11} {f.Masked,-28} {f.File}{(f.Line is { } l ? $" {l}" : "")}");
        if (review.RedactionFindingsTotal > 10) Console.WriteLine($"  … and {review.RedactionFindingsTotal - 10:N0} more");
        Console.WriteLine($"Time:                {totalSeconds.ToString("0.0", inv)} s ({extractSeconds.ToString("0.0", inv)} s reading files)");
        PrintProblems(version.Problems);
        Console.WriteLine($"Search index:        {File.ReadLines(DatasetSearch.PassagesPath(version.Folder)).Count(l => l.Length > 0):N0} passages (ask them with 'slm ask {version.Folder} --question \"...\"')");
        Console.WriteLine($"Task:                {version.Task}");
        Console.WriteLine($"Dataset version:     {version.Id}");
        Console.WriteLine($"Folder:              {version.Folder}");
        return 0;
    }

    private static void PrintProblems(IReadOnlyList<DataProblem> problems)
    {
        if (problems.Count == 0) return;
        Console.WriteLine($"Problems ({problems.Count}):");
        foreach (var p in problems)
            Console.WriteLine($"  [{p.Severity}] {p.File}: {p.Message}\n      What to do: {p.Fix}");
    }

    /// <summary>Reports on the calling thread: Progress&lt;T&gt; would post to the thread pool and print out of order.</summary>
    private sealed class SyncProgress(Action<DataProgress> report) : IProgress<DataProgress>
    {
        private readonly Lock _lock = new();
        public void Report(DataProgress value) { lock (_lock) report(value); }
    }
}
