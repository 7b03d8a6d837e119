using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using SlmStudio.Cli.Bench;
using SlmStudio.Core;
using SlmStudio.Core.Data;
using SlmStudio.Core.Retrieval;
using static SlmStudio.Cli.CliOptions;

namespace SlmStudio.Cli.Commands;

/// <summary>Measures "ask our documents" at a given size: index build time and size, query latency under concurrent users, recall@3.</summary>
public sealed class BenchAskCommand : SlmCommand
{
    private const int DefaultMegabytes = 10;
    private const int DefaultUsers = 10;
    private const int DefaultSeconds = 10;
    private const int DefaultSeed = 12345;
    private const int FileBytes = 1024 * 1024;
    private const int GeneratedQueries = 500;

    private readonly Option<int?> _megabytes = Int("--mb", "N", $"megabytes of documents to generate (default {DefaultMegabytes})", 1, 10_000);
    private readonly Option<int?> _users = Int("--users", "N", $"users asking at the same time (default {DefaultUsers})", 1, 1000);
    private readonly Option<int?> _seconds = Int("--seconds", "S", $"how long the users keep asking (default {DefaultSeconds})", 1, 3600);
    private readonly Option<int?> _seed = Int("--seed", "N", $"seed of the generated documents and questions (default {DefaultSeed})", 0);
    private readonly Option<bool> _json = Flag("--json", "print one JSON object instead of text");

    public BenchAskCommand() : base("ask", "Measure searching documents: index build time and size, query latency with concurrent users, recall@3.", """
        Generates --mb megabytes of handbook-like Markdown documents (1 MB files of English-like text with headings and
        paragraphs; the same size and seed give the same documents) with a built-in handbook hidden among them, then:
        reads them and splits them into passages as 'slm prepare' does (split time), builds the search index (build
        time, index size, passages.jsonl size), and has --users users ask questions at the same time for --seconds
        (query latency median and 95th percentile, queries per second). Questions are the built-in handbook questions
        and word groups drawn from the generated text. Recall@1/3/5 is measured on the built-in handbook questions
        (16 questions whose answer location is known). Nothing is kept: the documents and index are deleted at the end.
        --json prints one object with "documents", "build", "queries", "recall" and "machine" (cores, load average).
        """)
    {
        foreach (var option in new Option[] { _megabytes, _users, _seconds, _seed, _json })
            Options.Add(option);
    }

    private static string? LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : null;

    protected override async Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var megabytes = parsed.GetValue(_megabytes) ?? DefaultMegabytes;
        var users = parsed.GetValue(_users) ?? DefaultUsers;
        var seconds = parsed.GetValue(_seconds) ?? DefaultSeconds;
        var seed = parsed.GetValue(_seed) ?? DefaultSeed;
        var json = parsed.GetValue(_json);
        var loadBefore = LoadAverage();

        var work = Directory.CreateTempSubdirectory("slm-bench-ask-").FullName;
        try
        {
            void Say(string line) { if (!json) Console.Error.WriteLine(line); }

            Say($"Writing {megabytes} MB of documents…");
            var documents = Path.Combine(work, "documents");
            var files = WriteDocuments(documents, megabytes, seed, cancellationToken);
            var documentBytes = files.Sum(f => new FileInfo(f).Length);

            Say("Reading and splitting into passages…");
            var split = Stopwatch.StartNew();
            var passages = new List<Passage>();
            foreach (var file in files)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var document = DocumentExtractor.Extract(file, Path.GetFileName(file), null, DataLimits.Default, cancellationToken);
                if (!document.IsUsable)
                    throw new EngineException($"The generated document {Path.GetFileName(file)} could not be read: {string.Join("; ", document.Problems.Select(p => p.Message))}");
                passages.AddRange(PassageSplitter.Split(document));
            }
            var passagesPath = Path.Combine(work, DatasetSearch.PassagesFileName);
            PassagesFile.Write(passagesPath, passages);
            split.Stop();

            Say($"Building the index of {passages.Count:N0} passages…");
            var build = Stopwatch.StartNew();
            var indexFolder = Path.Combine(work, SearchIndex.DefaultFolderName);
            using var index = SearchIndex.Build(passages, indexFolder, ct: cancellationToken);
            build.Stop();
            var indexBytes = Directory.GetFiles(indexFolder).Sum(f => new FileInfo(f).Length);

            var recall = RetrievalEvaluation.Evaluate(index, BenchHandbook.Questions, ct: cancellationToken);

            Say($"{users} users asking for {seconds} s…");
            var queries = QueryPool(seed);
            var latencies = await LoadAsync(index, queries, users, TimeSpan.FromSeconds(seconds), seed, cancellationToken);
            latencies.Sort();
            double Percentile(double p) => latencies.Count == 0 ? 0 : latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(p * latencies.Count) - 1)];

            var result = new
            {
                documents = new { megabytes = Math.Round(documentBytes / 1048576.0, 2), files = files.Count, passages = passages.Count },
                build = new
                {
                    splitSeconds = Math.Round(split.Elapsed.TotalSeconds, 2),
                    indexSeconds = Math.Round(build.Elapsed.TotalSeconds, 2),
                    indexMegabytes = Math.Round(indexBytes / 1048576.0, 2),
                    passagesMegabytes = Math.Round(new FileInfo(passagesPath).Length / 1048576.0, 2),
                },
                queries = new
                {
                    users,
                    seconds,
                    count = latencies.Count,
                    perSecond = Math.Round(latencies.Count / (double)seconds, 1),
                    medianMs = Math.Round(Percentile(0.5), 2),
                    p95Ms = Math.Round(Percentile(0.95), 2),
                },
                recall = new
                {
                    questions = BenchHandbook.Questions.Count,
                    recallAt1 = recall.RecallAt(1),
                    recallAt3 = recall.RecallAt(3),
                    recallAt5 = recall.RecallAt(5),
                },
                machine = new { cores = Environment.ProcessorCount, loadAverageBefore = loadBefore, loadAverageAfter = LoadAverage() },
            };
            if (json)
            {
                Console.WriteLine(JsonSerializer.Serialize(result, new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true }));
                return 0;
            }
            var inv = CultureInfo.InvariantCulture;
            Console.WriteLine(string.Create(inv, $"Documents:   {result.documents.megabytes} MB in {files.Count} files, {passages.Count:N0} passages"));
            Console.WriteLine(string.Create(inv, $"Build:       split {result.build.splitSeconds} s, index {result.build.indexSeconds} s; index {result.build.indexMegabytes} MB, passages.jsonl {result.build.passagesMegabytes} MB"));
            Console.WriteLine(string.Create(inv, $"Queries:     {users} users for {seconds} s: {latencies.Count:N0} queries ({result.queries.perSecond}/s), median {result.queries.medianMs} ms, p95 {result.queries.p95Ms} ms"));
            Console.WriteLine(string.Create(inv, $"Recall:      @1 {recall.RecallAt(1):0.00}, @3 {recall.RecallAt(3):0.00}, @5 {recall.RecallAt(5):0.00} on {BenchHandbook.Questions.Count} built-in questions"));
            Console.WriteLine($"Machine:     {Environment.ProcessorCount} cores, load average {loadBefore ?? "unknown"} before, {LoadAverage() ?? "unknown"} after");
            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>
    /// 1 MB Markdown files of generated English-like text: a title, then sections of two to five paragraphs under a
    /// heading made of the section's first words; the built-in handbook and expenses policy are written beside them.
    /// </summary>
    private static List<string> WriteDocuments(string folder, int megabytes, int seed, CancellationToken ct)
    {
        Directory.CreateDirectory(folder);
        var files = new List<string>();
        var handbook = Path.Combine(folder, BenchHandbook.HandbookFile);
        File.WriteAllText(handbook, BenchHandbook.Handbook);
        var expenses = Path.Combine(folder, BenchHandbook.ExpensesFile);
        File.WriteAllText(expenses, BenchHandbook.Expenses);
        files.Add(handbook);
        files.Add(expenses);
        var random = new Random(seed);
        for (int i = 0; i < megabytes; i++)
        {
            ct.ThrowIfCancellationRequested();
            var paragraphs = EnglishTextGenerator.Generate(FileBytes, seed + i).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
            var sb = new StringBuilder(FileBytes + 4096);
            sb.Append("# Policy manual ").Append(i + 1).Append("\n\n");
            int p = 0;
            while (p < paragraphs.Length && sb.Length < FileBytes)
            {
                var words = paragraphs[p].Split(' ', 4);
                sb.Append("## ").Append(string.Join(' ', words.Take(3)).TrimEnd('.', ',', '?')).Append("\n\n");
                var count = 2 + random.Next(4);
                for (int k = 0; k < count && p < paragraphs.Length; k++, p++) sb.Append(paragraphs[p]).Append("\n\n");
            }
            var path = Path.Combine(folder, $"policy-manual-{i + 1:D4}.md");
            File.WriteAllText(path, sb.ToString());
            files.Add(path);
        }
        return files;
    }

    /// <summary>The built-in questions and word groups of three to six words drawn from generated text, as people type keywords.</summary>
    private static List<string> QueryPool(int seed)
    {
        var random = new Random(seed + 1);
        var words = EnglishTextGenerator.Generate(200_000, seed + 7_777).Split([' ', '\n', ',', '.', '?'], StringSplitOptions.RemoveEmptyEntries);
        var pool = BenchHandbook.Questions.Select(q => q.Question).ToList();
        for (int i = 0; i < GeneratedQueries; i++)
        {
            var length = 3 + random.Next(4);
            pool.Add(string.Join(' ', Enumerable.Range(0, length).Select(_ => words[random.Next(words.Length)])) + "?");
        }
        return pool;
    }

    /// <summary>Each user on its own thread asks one question after another until the time is up; returns every latency in milliseconds.</summary>
    private static async Task<List<double>> LoadAsync(SearchIndex index, List<string> queries, int users, TimeSpan duration, int seed, CancellationToken ct)
    {
        // A first query outside the measurement: the first search of a fresh index loads its term dictionary.
        index.Search(queries[0]);
        var deadline = Stopwatch.StartNew();
        var perUser = await Task.WhenAll(Enumerable.Range(0, users).Select(user => Task.Factory.StartNew(() =>
        {
            var random = new Random(seed + 100 + user);
            var latencies = new List<double>();
            // Every user asks at least once, however late its thread starts on a busy machine.
            do
            {
                var started = Stopwatch.GetTimestamp();
                index.Search(queries[random.Next(queries.Count)], 5);
                latencies.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            } while (deadline.Elapsed < duration && !ct.IsCancellationRequested);
            return latencies;
        }, ct, TaskCreationOptions.LongRunning, TaskScheduler.Default)));
        ct.ThrowIfCancellationRequested();
        return [.. perUser.SelectMany(l => l)];
    }
}
