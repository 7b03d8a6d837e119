using SlmStudio.Core.Retrieval;

namespace SlmStudio.Core.Tests.Retrieval;

/// <summary>Goal tests that name only words to contain: a passage is right when its text holds the words, and so must a written answer and a passage it cites.</summary>
public sealed class WordGoalEvaluationTests(HandbookIndex handbook) : IClassFixture<HandbookIndex>
{
    private static readonly WordGoal Holiday = new("How many days of annual leave do I get?", "28 days");
    // The search finds the second-jobs section, but no passage says "zebra": searched, not found, still answered.
    private static readonly WordGoal Moonlighting = new("How do we handle moonlighting?", "zebra");
    private static readonly WordGoal Peru = new("What is the capital of Peru?", "Lima");

    private sealed class Recorder : IProgress<WordGoalProgress>
    {
        public List<WordGoalProgress> Seen { get; } = [];
        public void Report(WordGoalProgress value) => Seen.Add(value);
    }

    [Fact]
    public void A_passage_is_right_when_its_text_holds_every_expected_word_in_any_order_and_case()
    {
        Passage leave = new("h#1", "handbook.md", ["Annual leave"], "Every employee gets 28 paid DAYS a year.");
        Assert.True(new WordGoal("q", "28 days").IsAnsweredBy(leave));
        Assert.True(new WordGoal("q", "days, 28").IsAnsweredBy(leave));
        Assert.False(new WordGoal("q", "8 days").IsAnsweredBy(leave)); // "8" is not the word "28"
        Assert.False(new WordGoal("q", "annual").IsAnsweredBy(leave)); // the heading is not the passage's text
        Assert.False(new WordGoal("q", "  ").IsAnsweredBy(leave));
    }

    [Fact]
    public async Task Recall_counts_passages_holding_the_words_and_answers_must_hold_them_and_cite_such_a_passage()
    {
        var asked = new List<string>();
        Task<WrittenAnswer> Write(string question, IReadOnlyList<Passage> passages, CancellationToken ct)
        {
            asked.Add(question);
            var withDays = passages.ToList().FindIndex(Holiday.IsAnsweredBy) + 1;
            var text = question == Holiday.Question
                ? $"You get 28 paid days a year [{withDays}]."
                : "You need a zebra [1]."; // the words are there, but passage 1 does not hold them
            return Task.FromResult(AnswerEvaluation.Parse(text, passages));
        }

        var progress = new Recorder();
        var report = await AnswerEvaluation.EvaluateWordGoalsAsync((q, k) => handbook.Index.Search(q, k), [Holiday, Moonlighting, Peru], Write, progress: progress);

        var (holiday, moonlighting, peru) = (report.Questions[0], report.Questions[1], report.Questions[2]);
        Assert.Equal(1, holiday.Rank);
        Assert.Null(moonlighting.Rank);
        Assert.False(moonlighting.NoGoodMatch);
        Assert.Null(peru.Rank);
        Assert.True(peru.NoGoodMatch);
        Assert.Equal(1 / 3.0, report.RecallAt(1), 10);
        Assert.Equal(1 / 3.0, report.RecallAt(5), 10);

        // Peru matched nothing: the writer was not asked and its answer fails.
        Assert.Equal([Holiday.Question, Moonlighting.Question], asked);
        Assert.True(holiday.AnswerPasses);
        Assert.True(moonlighting.ContainsExpected);
        Assert.False(moonlighting.CitesRightPassage);
        Assert.False(moonlighting.AnswerPasses);
        Assert.Null(peru.Answer);
        Assert.False(peru.AnswerPasses);
        Assert.True(report.AnswersWritten);
        Assert.Equal(2 / 3.0, report.ContainsExpectedRate, 10);
        Assert.Equal(1 / 3.0, report.CitesRightPassageRate, 10);
        Assert.Equal(1 / 3.0, report.AnswerPassRate, 10);

        Assert.Equal([new(1, 3, false), new(1, 3, true), new(2, 3, false), new(2, 3, true), new(3, 3, false)], progress.Seen);
    }

    [Fact]
    public async Task Without_a_writer_only_the_passages_are_scored_and_cancelling_stops_the_check()
    {
        var report = await AnswerEvaluation.EvaluateWordGoalsAsync((q, k) => handbook.Index.Search(q, k), [Holiday, Peru]);
        Assert.False(report.AnswersWritten);
        Assert.Equal(0.5, report.RecallAt(3), 10);
        Assert.Equal(0, report.AnswerPassRate);
        Assert.All(report.Questions, q => Assert.Null(q.Answer));

        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            AnswerEvaluation.EvaluateWordGoalsAsync((q, k) => handbook.Index.Search(q, k), [Holiday], ct: cancelled.Token));
    }
}
