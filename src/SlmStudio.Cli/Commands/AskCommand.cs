using System.CommandLine;
using System.Globalization;
using SlmStudio.Core;
using SlmStudio.Core.Inference;
using SlmStudio.Core.Retrieval;
using static SlmStudio.Cli.CliOptions;

namespace SlmStudio.Cli.Commands;

/// <summary>Searches a dataset version's documents, and with a model writes an answer that cites them, as the playground's "Ask our documents" does.</summary>
public sealed class AskCommand : SlmCommand
{
    private const int DefaultTop = 5;

    private readonly Argument<string?> _version = OptionalArgument("dataset version folder", "the folder made by 'slm prepare' (<out>/<id>)");
    private readonly Option<string?> _question = Text("--question", "text", "what to ask the documents", required: true);
    private readonly Option<int?> _top = Int("--top", "N", $"most passages to show (default {DefaultTop})", 1, 100);
    private readonly Option<string?> _model = Text("--model", "artifact folder", "a model made by 'slm export' that writes an answer from the passages");
    private readonly Option<int?> _maxTokens = Int("--max-tokens", "N", $"most tokens of the written answer (default {DocumentAnswerer.DefaultMaxNewTokens})", 1, 4096);
    private readonly Option<bool> _json = Flag("--json", "print one JSON object instead of text");

    public AskCommand() : base("ask", "Ask a dataset version's documents: the best passages with their sources, and an answer with --model", """
        Searches the passages of the dataset version (its search-index folder; rebuilt from passages.jsonl when it is
        missing or damaged) and prints the best ones with their source (file, heading, page or row) and the matching
        words marked «like this». When no passage matches the question well enough, it says so instead of showing
        weak matches. With --model, the model writes an answer from those passages (greedy decoding), citing them as
        [1][2]; a model that was not trained to follow instructions writes poor answers.

        With --json: one object with "passages" (each with number, id, file, heading, page or row when known, line,
        text, score, coverage and matches: offsets of the question's words in the text), "message" when nothing
        matched, and with --model "answer", "citations" (passage numbers cited), "unknownCitations", "notAnswered"
        and "passagesReadByModel".
        Exit codes: 0 answered (also when nothing matched), 1 the folder cannot be searched, 2 wrong arguments.
        """)
    {
        Arguments.Add(_version);
        foreach (var option in new Option[] { _question, _top, _model, _maxTokens, _json })
            Options.Add(option);
    }

    protected override async Task<int> RunAsync(ParseResult parsed, CancellationToken cancellationToken)
    {
        var folder = parsed.GetValue(_version) ?? throw new UsageException("Give the dataset version folder (made by 'slm prepare').");
        var question = parsed.GetValue(_question)!;
        if (string.IsNullOrWhiteSpace(question)) throw new UsageException("--question is empty: write what you want to know.");
        var top = parsed.GetValue(_top) ?? DefaultTop;
        var modelFolder = parsed.GetValue(_model);
        var maxTokens = parsed.GetValue(_maxTokens) ?? DocumentAnswerer.DefaultMaxNewTokens;
        var json = parsed.GetValue(_json);
        if (!Directory.Exists(folder)) throw new EngineException($"The dataset version folder '{folder}' does not exist.");

        // The model is opened first so that a wrong artifact folder is reported before any search work.
        using var artifact = modelFolder is null ? null : OnnxArtifact.Open(modelFolder);
        var rebuilding = new IndexProgressPrinter();
        using var index = DatasetSearch.Open(folder, rebuilding, cancellationToken);
        var results = index.Search(question, top);
        WrittenAnswer? answer = null;
        if (artifact is not null && !results.NoGoodMatch)
            answer = await DocumentAnswerer.WriteAsync(new TextGenerator(artifact), question, [.. results.Hits.Select(h => h.Passage)], maxTokens, cancellationToken);

        if (json) Console.WriteLine(AskResponse.From(results, answer).ToJson());
        else PrintText(results, answer, modelFolder);
        return 0;
    }

    private static void PrintText(SearchResults results, WrittenAnswer? answer, string? modelFolder)
    {
        if (results.NoGoodMatch)
        {
            Console.WriteLine(results.Message);
            return;
        }
        foreach (var hit in results.Hits)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"[{hit.Rank}] {hit.Passage.SourceLabel}  (score {hit.Score:0.00})"));
            Console.WriteLine($"    {hit.Snippet.Marked("«", "»")}");
        }
        if (answer is null) return;
        Console.WriteLine();
        Console.WriteLine($"Answer ({Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(modelFolder!)))}, from passages 1-{answer.PassagesRead.Count}):");
        Console.WriteLine(answer.Text.Length > 0 ? answer.Text : "(the model wrote nothing)");
        foreach (var passage in answer.Citations.CitedPassages)
            Console.WriteLine($"  cites {passage.SourceLabel}");
        if (answer.Citations.UnknownNumbers.Count > 0)
            Console.WriteLine($"  cites passages that were not given: {string.Join(", ", answer.Citations.UnknownNumbers.Select(n => $"[{n}]"))}");
        if (answer.Citations.Citations.Count == 0 && !answer.SaysNotAnswered)
            Console.WriteLine("  (the answer cites no passage: check it against the passages above)");
    }

    /// <summary>Only an index that is being built again reports progress; a search of an intact index prints nothing here.</summary>
    private sealed class IndexProgressPrinter : IProgress<IndexProgress>
    {
        public void Report(IndexProgress value) => Console.Error.WriteLine($"  search index: {value.Done}/{value.Total} passages");
    }
}
