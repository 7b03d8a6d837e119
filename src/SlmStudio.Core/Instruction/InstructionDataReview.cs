using System.Globalization;
using System.Text.Json.Serialization;
using SlmStudio.Core.Data;

namespace SlmStudio.Core.Instruction;

[JsonConverter(typeof(JsonStringEnumConverter<InstructionFindingKind>))]
public enum InstructionFindingKind { TooFewPairs, EmptyQuestion, EmptyAnswer, LongerThanContext, ConflictingAnswers }

/// <summary>One thing the user should know about their question/answer data, in plain English, with every row concerned.</summary>
public sealed record InstructionFinding(InstructionFindingKind Kind, ProblemSeverity Severity, string Message, string Fix, IReadOnlyList<int> Rows);

public sealed record InstructionReviewOptions
{
    /// <summary>Below this many usable pairs training is refused: there is too little to learn from and to hold back for measuring.</summary>
    public int MinPairs { get; init; } = 10;
    /// <summary>Below this many usable pairs the user is warned that the model will mostly repeat the pairs it saw.</summary>
    public int FewPairs { get; init; } = 200;
    /// <summary>Messages list at most this many rows or questions; <see cref="InstructionFinding.Rows"/> holds them all.</summary>
    public int MaxListed { get; init; } = 10;

    public static InstructionReviewOptions Default { get; } = new();
}

/// <summary>
/// The review of question/answer data before training: empty questions or answers, conversations longer than the
/// model reads at once (when a tokenizer and context length are known), the same question with different answers
/// (listed), and too few pairs. Findings are ordered from the most to the least serious.
/// </summary>
public sealed record InstructionDataReview(int Rows, int UsableRows, IReadOnlyList<InstructionFinding> Findings)
{
    public bool CanTrain => !Findings.Any(f => f.Severity == ProblemSeverity.Error);

    /// <param name="tokensOf">Tokens of a whole rendered conversation; with <paramref name="contextLength"/>, flags those that do not fit.</param>
    public static InstructionDataReview Of(IReadOnlyList<Conversation> conversations, Func<Conversation, int>? tokensOf = null, int? contextLength = null,
        InstructionReviewOptions? options = null)
    {
        options ??= InstructionReviewOptions.Default;
        var findings = new List<InstructionFinding>();
        var usable = conversations.Where(c => c.IsUsable).ToList();

        var emptyQuestions = conversations.Where(c => !c.Messages.Any(m => m.Role == "user" && !string.IsNullOrWhiteSpace(m.Content))).Select(c => c.Row).ToList();
        if (emptyQuestions.Count > 0)
            findings.Add(new InstructionFinding(InstructionFindingKind.EmptyQuestion, ProblemSeverity.Warning,
                $"{Count(emptyQuestions.Count, "row has", "rows have")} no question ({RowList(emptyQuestions, options)}). {(emptyQuestions.Count == 1 ? "It is" : "They are")} left out of training.",
                "Fill in the question of those rows, or delete them.", emptyQuestions));

        var emptyAnswers = conversations.Where(c => !emptyQuestions.Contains(c.Row) && !c.Messages.Any(m => m.Role == "assistant" && !string.IsNullOrWhiteSpace(m.Content)))
            .Select(c => c.Row).ToList();
        if (emptyAnswers.Count > 0)
            findings.Add(new InstructionFinding(InstructionFindingKind.EmptyAnswer, ProblemSeverity.Warning,
                $"{Count(emptyAnswers.Count, "question has", "questions have")} no answer ({RowList(emptyAnswers, options)}). {(emptyAnswers.Count == 1 ? "It is" : "They are")} left out of training.",
                "Write the answer the model should give to each of those questions, or delete the rows.", emptyAnswers));

        if (tokensOf is not null && contextLength is { } context)
        {
            var tooLong = usable.Select(c => (c.Row, Tokens: tokensOf(c))).Where(x => x.Tokens > context).ToList();
            if (tooLong.Count > 0)
                findings.Add(new InstructionFinding(InstructionFindingKind.LongerThanContext, ProblemSeverity.Warning,
                    $"{Count(tooLong.Count, "question and its answer are", "questions and their answers are")} longer than the {context.ToString("N0", CultureInfo.InvariantCulture)} tokens the model reads at once " +
                    $"({RowList([.. tooLong.Select(x => x.Row)], options)}; the longest has {tooLong.Max(x => x.Tokens).ToString("N0", CultureInfo.InvariantCulture)} tokens). The end of {(tooLong.Count == 1 ? "that answer" : "those answers")} is cut off in training, so the model never learns how {(tooLong.Count == 1 ? "it ends" : "they end")}.",
                    "Shorten those answers or split them into several questions, or choose a longer context length.", [.. tooLong.Select(x => x.Row)]));
        }

        var conflicts = usable.GroupBy(c => Key(c.Question), StringComparer.Ordinal)
            .Where(g => g.Select(c => Key(c.Answer)).Distinct(StringComparer.Ordinal).Count() > 1)
            .OrderBy(g => g.Min(c => c.Row)).ToList();
        if (conflicts.Count > 0)
        {
            var listed = conflicts.Take(options.MaxListed).Select(g => $"\"{Shorten(g.First().Question)}\" ({RowList([.. g.Select(c => c.Row)], options)})");
            var more = conflicts.Count > options.MaxListed ? $" … and {conflicts.Count - options.MaxListed} more." : "";
            findings.Add(new InstructionFinding(InstructionFindingKind.ConflictingAnswers, ProblemSeverity.Warning,
                $"{Count(conflicts.Count, "question appears", "questions appear")} more than once with different answers, which teaches the model two answers to the same question: {string.Join("; ", listed)}.{more}",
                "Decide which answer is right for each of these questions and correct or delete the others (or make the questions say what differs).",
                [.. conflicts.SelectMany(g => g.Select(c => c.Row)).Order()]));
        }

        if (usable.Count < options.MinPairs)
            findings.Add(new InstructionFinding(InstructionFindingKind.TooFewPairs, ProblemSeverity.Error,
                usable.Count == 0 ? "There are no rows with both a question and an answer, so there is nothing to learn from."
                                  : $"There are only {Count(usable.Count, "usable question and answer", "usable questions and answers")}; at least {options.MinPairs} are needed to train and to keep a few back to measure the model.",
                "Check that the right columns are picked for the question and the answer, and add more pairs (a few hundred work far better).", []));
        else if (usable.Count < options.FewPairs)
            findings.Add(new InstructionFinding(InstructionFindingKind.TooFewPairs, ProblemSeverity.Info,
                $"There are {usable.Count.ToString("N0", CultureInfo.InvariantCulture)} questions with answers. With fewer than {options.FewPairs} the model mostly learns to repeat these answers and copes poorly with questions asked in other words.",
                "Add more pairs, including the same question asked in different ways, to make the model more robust.", []));

        return new InstructionDataReview(conversations.Count, usable.Count, [.. findings.OrderByDescending(f => f.Severity)]);
    }

    private static string Key(string s) => string.Join(' ', s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)).ToLowerInvariant();

    private static string Shorten(string text) => SafeFileName.ForDisplay(text.Length <= 60 ? text : text[..57].TrimEnd() + "…");

    private static string Count(int n, string one, string many) => $"{n.ToString("N0", CultureInfo.InvariantCulture)} {(n == 1 ? one : many)}";

    private static string RowList(IReadOnlyList<int> rows, InstructionReviewOptions options)
    {
        var shown = string.Join(", ", rows.Take(options.MaxListed));
        return (rows.Count == 1 ? "row " : "rows ") + (rows.Count > options.MaxListed ? $"{shown} and {rows.Count - options.MaxListed} more" : shown);
    }
}
