using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using SlmStudio.Core.Data;

namespace SlmStudio.Cli.Tests;

/// <summary>
/// "Sort and route" through the real <c>slm</c>: train a classifier on a small labelled CSV (four labels with their own
/// words), export it, classify texts and files, measure it. One run is trained for the whole class (a few dozen steps of
/// the tiny preset); the tests read its outputs.
/// </summary>
public sealed class ClassifyCliTests(ClassifyCliTests.TrainedClassifier trained) : IClassFixture<ClassifyCliTests.TrainedClassifier>, IDisposable
{
    public static readonly string[] Labels = ["billing", "delivery", "account", "cancel"];

    private static readonly string[][] Keywords =
    [
        ["invoice", "charged twice", "payment failed", "refund", "bill"],
        ["parcel", "tracking number", "courier", "shipping", "package"],
        ["password", "log in", "username", "sign in", "locked out"],
        ["cancel", "unsubscribe", "close my subscription", "stop my plan", "end contract"],
    ];

    private readonly string _dir = Directory.CreateTempSubdirectory("slm-classify-test-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>"message,team" rows: filler shared by all labels around one label's words (chance is 25%).</summary>
    public static string MakeCsv(int perLabel, int seed)
    {
        string[] openers = ["hi", "hello", "please help", "good morning", "hey team", ""];
        string[] middles = ["i have a question about my", "there is a problem with the", "can you check the", "i need help with the"];
        string[] closers = ["thanks", "asap please", "today, it is urgent", "", "regards"];
        var random = new Random(seed);
        var csv = new StringBuilder("message,team\n");
        for (int i = 0; i < perLabel; i++)
            for (int l = 0; l < Labels.Length; l++)
            {
                string Pick(string[] words) => words[random.Next(words.Length)];
                var text = string.Join(' ', new[] { Pick(openers), Pick(middles), Pick(Keywords[l]), Pick(closers) }.Where(w => w.Length > 0));
                csv.Append('"').Append(text.Replace("\"", "\"\"")).Append("\",").Append(Labels[l]).Append('\n');
            }
        return csv.ToString();
    }

    internal static (int Exit, string Out, string Err) Slm(params string[] args)
    {
        var start = new ProcessStartInfo(IsolatedExtractor.FindDotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "slm.dll"));
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // A generous limit only against a hung process: training shares the machine with whatever else runs.
        Assert.True(process.WaitForExit(TimeSpan.FromMinutes(30)), "slm did not finish");
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>One classification run and its export, shared by the tests of this class.</summary>
    public sealed class TrainedClassifier : IDisposable
    {
        public string Root { get; } = Directory.CreateTempSubdirectory("slm-classify-run-").FullName;
        public string Data => Path.Combine(Root, "tickets.csv");
        public string Run => Path.Combine(Root, "run");
        public string Artifact => Path.Combine(Root, "artifact");
        public IReadOnlyList<JsonObject> Events { get; }
        public (int Exit, string Out, string Err) Export { get; }

        public TrainedClassifier()
        {
            File.WriteAllText(Data, MakeCsv(perLabel: 40, seed: 1));
            var (exit, stdout, stderr) = Slm("train", "--task", "classify", "--data", Data, "--text-column", "message", "--label-column", "team", "--out", Run,
                "--preset", "tiny", "--max-steps", "80", "--context", "64", "--vocab-size", "300", "--eval-every", "10", "--log-every", "5", "--seed", "3",
                // The labels asserted below come from 50 label steps without the regularisation and the word scores
                // that runs from scratch get by default (they need more steps than that: word scores are held small);
                // turning them off also checks that the options are taken. Float32 language steps: "auto" picks
                // bfloat16 on some processors, and a 30-step language phase in it led to other labels.
                "--token-dropout", "0", "--label-smoothing", "0", "--head-dropout", "0", "--word-buckets", "0", "--precision", "fp32");
            Assert.True(exit == 0, $"slm train failed ({exit}): {stderr}\n{stdout}");
            Events = [.. stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject())];
            Export = Slm("export", Run, "--out", Artifact);
        }

        public void Dispose() => Directory.Delete(Root, recursive: true);
    }

    [Fact]
    public void Train_prints_json_lines_from_started_to_finished_and_beats_chance()
    {
        var kinds = trained.Events.Select(e => (string)e["event"]!).ToList();
        Assert.Equal("started", kinds[0]);
        var options = JsonNode.Parse(File.ReadAllText(Path.Combine(trained.Run, "run.json")))!["options"]!;
        Assert.Equal(0.0, (double)options["tokenDropout"]!);
        Assert.Equal(0.0, (double)options["labelSmoothing"]!);
        Assert.Equal(0, (int)options["pairBuckets"]!);
        Assert.DoesNotContain("pairBuckets", File.ReadAllText(Path.Combine(trained.Run, "classifier", "labels.json")));
        Assert.Equal("finished", kinds[^1]);
        Assert.Equal("classify", (string)trained.Events[0]["task"]!);
        Assert.Equal("scratch", (string)trained.Events[0]["route"]!);
        // The route's reason, both phases' progress, and the label phase's validation figures.
        Assert.Contains(trained.Events, e => (string)e["event"]! == "message" && ((string)e["text"]!).Contains("No base model was given", StringComparison.Ordinal));
        Assert.Contains(trained.Events, e => (string)e["event"]! == "step" && (string)e["phase"]! == "language");
        Assert.Contains(trained.Events, e => (string)e["event"]! == "step" && (string)e["phase"]! == "labels");
        Assert.Contains(trained.Events, e => (string)e["event"]! == "eval" && (string)e["phase"]! == "labels" && e["accuracy"] is not null && e["macroF1"] is not null);

        var finished = trained.Events[^1];
        Assert.InRange((double)finished["accuracy"]!, 0.6, 1.0); // chance is 0.25
        Assert.InRange((double)finished["macroF1"]!, 0.5, 1.0);
        Assert.InRange((double)finished["baselineAccuracy"]!, 0.25, 1.0);
        Assert.NotNull(finished["baselineMacroF1"]);
        Assert.Equal(Path.Combine(trained.Run, "classifier"), (string)finished["classifierDir"]!);
        var summary = (string)finished["summary"]!;
        Assert.Matches(@"^Your model: \d+\.\d% correct\. A simple keyword model: \d+\.\d%\.", summary);
        if ((double)finished["baselineAccuracy"]! > (double)finished["accuracy"]!) Assert.Contains("keyword model did better", summary);
    }

    [Fact]
    public void Run_folder_holds_the_classifier_the_baseline_and_the_figures()
    {
        foreach (var file in new[] { "classifier/config.json", "classifier/model.safetensors", "classifier/labels.json", "classifier/tokenizer.json",
                     "baseline.zip", "metrics.json", "metrics.jsonl", "result.json", "run.json", "data/train.jsonl", "data/validation.jsonl", "language/model/config.json" })
            Assert.True(File.Exists(Path.Combine(trained.Run, file)), $"{file} is missing");
        var metrics = JsonNode.Parse(File.ReadAllText(Path.Combine(trained.Run, "metrics.json")))!;
        Assert.StartsWith("Your model: ", (string)metrics["summary"]!);
        Assert.Equal(4, metrics["model"]!["perLabel"]!.AsArray().Count);
        Assert.Equal(4, metrics["baseline"]!["perLabel"]!.AsArray().Count);
        Assert.Equal(Labels.Order(), metrics["labels"]!.AsArray().Select(l => (string)l!));
    }

    [Fact]
    public void Export_checks_parity_and_classify_picks_the_right_label()
    {
        var (exit, stdout, stderr) = trained.Export;
        Assert.True(exit == 0, $"export failed: {stderr}\n{stdout}");
        Assert.Contains("parity: probabilities max abs diff", stdout);
        Assert.Contains("top labels identical", stdout);

        var (classifyExit, ranked, err) = Slm("classify", trained.Artifact, "--text", "hello there is a problem with the parcel tracking number thanks");
        Assert.True(classifyExit == 0, err);
        var lines = ranked.Trim().Split('\n');
        Assert.Equal(4, lines.Length);
        Assert.StartsWith("delivery", lines[0]);
        var probabilities = lines.Select(l => double.Parse(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(probabilities.OrderDescending(), probabilities);
        Assert.InRange(probabilities.Sum(), 99.0, 101.0); // percentages, rounded

        var (jsonExit, json, _) = Slm("classify", trained.Artifact, "--text", "i need help with the refund of my invoice", "--json");
        Assert.Equal(0, jsonExit);
        Assert.Equal("billing", (string)JsonNode.Parse(json)!["label"]!);
        // A classifier from scratch reads text lower-cased (its tokenizer.json says so, for every reader of the export).
        var (shoutedExit, shouted, _) = Slm("classify", trained.Artifact, "--text", "I NEED HELP with the Refund of my INVOICE", "--json");
        Assert.Equal(0, shoutedExit);
        Assert.Equal(json, shouted);
    }

    [Fact]
    public void Classify_file_writes_the_input_rows_plus_prediction_and_confidence()
    {
        Assert.Equal(0, trained.Export.Exit);
        var input = Path.Combine(_dir, "in.csv");
        File.WriteAllText(input, "id,message\n1,\"my parcel, the courier lost it\"\n2,\"a \"\"quoted\"\" refund\nover two lines\"\n3,i forgot my password and cannot log in\n");
        var output = Path.Combine(_dir, "predictions.csv");
        var (exit, _, err) = Slm("classify", trained.Artifact, "--file", input, "--text-column", "message", "--out", output);
        Assert.True(exit == 0, err);

        var rows = ReadCsv(File.ReadAllText(output));
        Assert.Equal(["id", "message", "predicted_label", "confidence"], rows[0]);
        Assert.Equal(4, rows.Count);
        Assert.Equal("my parcel, the courier lost it", rows[1][1]);
        Assert.Equal("a \"quoted\" refund\nover two lines", rows[2][1]);
        Assert.Equal("delivery", rows[1][2]);
        Assert.Equal("account", rows[3][2]);
        foreach (var row in rows.Skip(1))
        {
            Assert.Contains(row[2], Labels);
            Assert.InRange(double.Parse(row[3], CultureInfo.InvariantCulture), 0.25, 1.0); // the top of four probabilities
        }
    }

    [Fact]
    public void Eval_json_gives_accuracy_macro_f1_and_per_label_figures()
    {
        Assert.Equal(0, trained.Export.Exit);
        var test = Path.Combine(_dir, "test.csv");
        File.WriteAllText(test, MakeCsv(perLabel: 10, seed: 99));
        var (exit, stdout, err) = Slm("eval", trained.Artifact, "--data", test, "--text-column", "message", "--label-column", "team", "--json");
        Assert.True(exit == 0, err);
        var result = JsonNode.Parse(stdout)!;
        Assert.Equal(40, (int)result["count"]!);
        Assert.InRange((double)result["accuracy"]!, 0.6, 1.0);
        Assert.InRange((double)result["macroF1"]!, 0.5, 1.0);
        var perLabel = result["perLabel"]!.AsArray();
        Assert.Equal(Labels.Order(), perLabel.Select(l => (string)l!["label"]!).Order());
        Assert.All(perLabel, l => Assert.Equal(10, (int)l!["support"]!));
        Assert.Null(result["baseline"]);

        // The run's keyword model measured on the same texts, from the run folder.
        var (withBaselineExit, withBaseline, baselineErr) = Slm("eval", trained.Artifact, "--data", test, "--text-column", "message", "--label-column", "team", "--json", "--baseline", trained.Run);
        Assert.True(withBaselineExit == 0, baselineErr);
        var baseline = JsonNode.Parse(withBaseline)!["baseline"]!;
        Assert.Equal(40, (int)baseline["count"]!);
        Assert.InRange((double)baseline["accuracy"]!, 0.6, 1.0); // the words of each label are plain keywords

        var (textExit, text, _) = Slm("eval", trained.Artifact, "--data", test, "--text-column", "message", "--label-column", "team");
        Assert.Equal(0, textExit);
        Assert.Contains("accuracy:", text);
        Assert.Contains("macro-F1:", text);
        Assert.Contains("precision", text);
    }

    [Fact]
    public void Bench_classify_measures_texts_per_second_at_batch_1_and_32()
    {
        Assert.Equal(0, trained.Export.Exit);
        var (exit, stdout, err) = Slm("bench", "classify", trained.Artifact, "--json", "--passes", "1");
        Assert.True(exit == 0, err);
        var result = JsonNode.Parse(stdout)!;
        Assert.Equal(4, (int)result["labels"]!);
        Assert.True((double)result["meanTokens"]! > 1);
        var rows = result["results"]!.AsArray();
        Assert.Equal([1, 32], rows.Select(r => (int)r!["batchSize"]!));
        foreach (var row in rows)
        {
            Assert.True((double)row!["textsPerSecond"]! > 0);
            Assert.Equal(0, (int)row["texts"]! % (int)row["batchSize"]!); // whole batches only
            Assert.Equal(1000.0 * (int)row["batchSize"]! / (double)row["textsPerSecond"]!, (double)row["millisecondsPerBatch"]!, 6);
        }

        // Own texts from a file, and the table.
        var texts = Path.Combine(_dir, "texts.csv");
        File.WriteAllText(texts, "message\nwhere is my parcel\nmy invoice is wrong\n");
        var (tableExit, table, tableErr) = Slm("bench", "classify", trained.Artifact, "--data", texts, "--text-column", "message", "--passes", "1");
        Assert.True(tableExit == 0, tableErr);
        Assert.Contains("texts.csv (2 distinct", table);
        Assert.Matches(@"(?m)^\s+1\s+[\d,.]+\s", table);
        Assert.Matches(@"(?m)^\s+32\s+[\d,.]+\s", table);

        var (notClassifier, _, notErr) = Slm("bench", "classify", _dir);
        Assert.Equal(2, notClassifier);
        Assert.Contains("is not an exported classifier", notErr);
    }

    [Fact]
    public async Task A_run_whose_parent_is_gone_stops_and_resume_finishes_it()
    {
        var run = Path.Combine(_dir, "run");
        var start = new ProcessStartInfo(IsolatedExtractor.FindDotnetHost()) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in (string[])[Path.Combine(AppContext.BaseDirectory, "slm.dll"), "train", "--task", "classify", "--data", trained.Data, "--text-column", "message", "--label-column", "team",
                     "--out", run, "--preset", "tiny", "--max-steps", "20", "--context", "64", "--vocab-size", "300", "--eval-every", "5", "--seed", "3", SlmStudio.Core.Processes.SlmLauncher.StopWithParentOption])
            start.ArgumentList.Add(a);
        using (var process = Process.Start(start)!)
        {
            process.StandardInput.Close(); // the parent's end of the pipe is gone, as when the portal dies
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(30));
            var err0 = await stderr;
            Assert.Equal(SlmStudio.Core.Processes.SlmLauncher.CancelledExitCode, process.ExitCode);
            Assert.Contains("the program that started this training has ended", err0);
            Assert.DoesNotContain("   at ", err0);
            Assert.DoesNotContain("\"finished\"", await stdout);
        }
        Assert.False(File.Exists(Path.Combine(run, "result.json")));

        // --resume alone (no --task, no --data): the folder says it is a classification run.
        var (exit, resumed, err) = Slm("train", "--resume", "--out", run);
        Assert.True(exit == 0, $"resume failed ({exit}): {err}\n{resumed}");
        var events = resumed.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal("finished", (string)events[^1]["event"]!);
        Assert.True(File.Exists(Path.Combine(run, "result.json")));
    }

    [Fact]
    public void A_file_with_one_label_is_refused_with_the_reviews_message()
    {
        var data = Path.Combine(_dir, "one-label.csv");
        File.WriteAllText(data, "text,label\n" + string.Concat(Enumerable.Range(0, 20).Select(i => $"my invoice number {i} is wrong,billing\n")));
        var (exit, stdout, stderr) = Slm("train", "--task", "classify", "--data", data, "--out", Path.Combine(_dir, "run"), "--max-steps", "4");
        Assert.Equal(1, exit);
        Assert.Contains("Every usable row has the same label", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
        var last = JsonNode.Parse(stdout.Trim().Split('\n')[^1])!;
        Assert.Equal("error", (string)last["event"]!);
        Assert.Contains("at least two different labels", (string)last["message"]!);
    }

    [Theory]
    [InlineData("tiny-llama-hf")]
    [InlineData("tiny-phi3-hf")] // untied, fused projections: the export must not need a language-model head
    public void A_base_model_skips_the_language_phase_and_exports_with_parity(string fixture)
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "SlmStudio.sln"))) root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("The repository root was not found.");
        var baseModel = Path.Combine(root, "..", "shared", "fixtures", fixture);
        var data = Path.Combine(_dir, "tickets.csv");
        File.WriteAllText(data, MakeCsv(perLabel: 12, seed: 5));
        var run = Path.Combine(_dir, "run");
        var (exit, stdout, stderr) = Slm("train", "--task", "classify", "--data", data, "--text-column", "message", "--label-column", "team", "--out", run,
            "--base", baseModel, "--max-steps", "6", "--batch-size", "8", "--eval-every", "3");
        Assert.True(exit == 0, $"slm train failed ({exit}): {stderr}\n{stdout}");
        var events = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!.AsObject()).ToList();
        Assert.Equal("base", (string)events[0]["route"]!);
        Assert.Contains(events, e => (string)e["event"]! == "message" && ((string)e["text"]!).StartsWith("Starting from the base model", StringComparison.Ordinal));
        Assert.DoesNotContain(events, e => (string?)e["phase"] == "language");
        Assert.Equal("finished", (string)events[^1]["event"]!);
        Assert.False(Directory.Exists(Path.Combine(run, "language")));

        var artifact = Path.Combine(_dir, "artifact");
        var (exportExit, exported, exportErr) = Slm("export", run, "--out", artifact);
        Assert.True(exportExit == 0, $"export failed: {exportErr}\n{exported}");
        Assert.Contains("top labels identical", exported);
        var (classifyExit, ranked, _) = Slm("classify", artifact, "--text", "where is my parcel");
        Assert.Equal(0, classifyExit);
        Assert.Equal(4, ranked.Trim().Split('\n').Length);
    }

    [Theory]
    [InlineData(new[] { "train", "--task", "chat", "--resume", "--out", "x" }, "An instruction-tuning run (--task chat) cannot be resumed")]
    [InlineData(new[] { "bench", "classify" }, "Give the classifier's artifact folder")]
    [InlineData(new[] { "train", "--task", "poems", "--data", "a", "--out", "x" }, "--task must be text, classify or chat (got 'poems')")]
    [InlineData(new[] { "train", "--data", "a", "--out", "x", "--label-column", "team" }, "apply only with --task classify")]
    [InlineData(new[] { "train", "--task", "classify", "--data", "a", "--out", "x", "--dropout", "0.1" }, "--dropout, --weight-decay and --optimizer apply only to --task text")]
    [InlineData(new[] { "train", "--task", "chat", "--data", "a", "--out", "x", "--weight-decay", "0.5" }, "--dropout, --weight-decay and --optimizer apply only to --task text")]
    [InlineData(new[] { "train", "--task", "classify", "--data", "a", "--out", "x", "--optimizer", "muon" }, "--dropout, --weight-decay and --optimizer apply only to --task text")]
    [InlineData(new[] { "train", "--data", "a", "--out", "x", "--weight-decay", "-1" }, "--weight-decay")]
    [InlineData(new[] { "train", "--data", "a", "--out", "x", "--dropout", "0.95" }, "--dropout")]
    [InlineData(new[] { "classify", "artifact" }, "Give either --text or --file")]
    [InlineData(new[] { "classify", "artifact", "--file", "in.csv" }, "--file needs --out")]
    public void Wrong_arguments_are_usage_errors(string[] args, string expected)
    {
        var (exit, _, err) = Slm(args);
        Assert.Equal(2, exit);
        Assert.Contains(expected, err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void Help_lists_the_task_and_column_options()
    {
        var (_, train, _) = Slm("train", "--help");
        foreach (var option in new[] { "--task", "--text-column", "--label-column" }) Assert.Contains(option, train);
        var (_, classify, _) = Slm("classify", "--help");
        foreach (var option in new[] { "--text", "--file", "--text-column", "--out", "predicted_label" }) Assert.Contains(option, classify);
        var (_, eval, _) = Slm("eval", "--help");
        foreach (var option in new[] { "--text-column", "--label-column", "--json" }) Assert.Contains(option, eval);
    }

    /// <summary>RFC 4180 rows (quoted fields with doubled quotes and line breaks), independent of the writer under test.</summary>
    private static List<string[]> ReadCsv(string text)
    {
        var rows = new List<string[]>();
        var row = new List<string>();
        var field = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"') { field.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else field.Append(c);
            }
            else if (c == '"') quoted = true;
            else if (c == ',') { row.Add(field.ToString()); field.Clear(); }
            else if (c == '\r') { }
            else if (c == '\n') { row.Add(field.ToString()); field.Clear(); rows.Add([.. row]); row.Clear(); }
            else field.Append(c);
        }
        if (field.Length > 0 || row.Count > 0) { row.Add(field.ToString()); rows.Add([.. row]); }
        return rows;
    }
}
