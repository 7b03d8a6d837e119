using SlmStudio.Core.Verdicts;

namespace SlmStudio.Core.Tests.Verdicts;

public class ModelVerdictTests
{
    private const long Handbook = 100_000; // a 100 KB handbook: too little to train from scratch
    private const long Corpus = 5_000_000;

    [Fact]
    public void A_version_no_better_than_the_baseline_is_not_useful_and_small_text_points_to_a_base_model()
    {
        var verdict = ModelVerdict.From(new(ValidationLoss: 6.1, BaselineValidationLoss: 6.0, 3, 3, Handbook));
        Assert.Equal(VerdictLevel.NotUsefulYet, verdict.Level);
        Assert.False(verdict.FitForProduction);
        Assert.Contains("no better than", verdict.Why);
        Assert.Contains("base model", verdict.NextStep);
        Assert.Contains("too little", verdict.NextStep);
    }

    [Fact]
    public void Failing_most_goal_tests_is_not_useful_even_when_it_beats_the_baseline()
    {
        var verdict = ModelVerdict.From(new(3.0, 6.0, GoalTestsPassed: 1, GoalTests: 3, Corpus));
        Assert.Equal(VerdictLevel.NotUsefulYet, verdict.Level);
        Assert.Contains("1 of 3", verdict.Why);
    }

    [Fact]
    public void Too_few_passes_over_enough_text_says_train_longer()
    {
        var verdict = ModelVerdict.From(new(6.5, 6.0, 0, 0, Corpus, PassesOverData: 1.2));
        Assert.Equal(VerdictLevel.NotUsefulYet, verdict.Level);
        Assert.StartsWith("Train longer", verdict.NextStep);
    }

    [Fact]
    public void A_clear_improvement_passing_the_goal_tests_is_good()
    {
        var verdict = ModelVerdict.From(new(3.0, 6.0, 4, 5, Corpus));
        Assert.Equal(VerdictLevel.Good, verdict.Level);
        Assert.Equal("Good", verdict.Title);
        Assert.Contains("50% better", verdict.Why);
        Assert.True(verdict.FitForProduction);
    }

    [Fact]
    public void A_small_improvement_is_usable_for_drafts()
    {
        var verdict = ModelVerdict.From(new(5.5, 6.0, 3, 3, Corpus));
        Assert.Equal(VerdictLevel.UsableForDrafts, verdict.Level);
        Assert.True(verdict.FitForProduction);
    }

    [Fact]
    public void Without_goal_tests_a_good_loss_is_only_usable_for_drafts_and_asks_for_goal_tests()
    {
        var verdict = ModelVerdict.From(new(2.0, 6.0, 0, 0, Corpus));
        Assert.Equal(VerdictLevel.UsableForDrafts, verdict.Level);
        Assert.Contains("goal tests", verdict.NextStep);
    }

    [Fact]
    public void A_version_without_a_measurement_is_not_useful()
    {
        Assert.Equal(VerdictLevel.NotUsefulYet, ModelVerdict.From(new(null, 6.0, 0, 0, Corpus)).Level);
    }

    [Fact]
    public void Fine_tuning_a_base_model_on_little_text_is_not_told_to_use_a_base_model_for_lack_of_text()
    {
        var verdict = ModelVerdict.From(new(6.5, 6.0, 0, 0, Handbook, PassesOverData: 30, FromBaseModel: true));
        Assert.DoesNotContain("too little", verdict.NextStep);
    }
}

public class TrainingAdviceTests
{
    [Fact]
    public void A_handbook_gets_a_recommendation_from_the_measured_speed_and_a_warning_for_one_minute()
    {
        // 100 KB ≈ 30,000 tokens at 1,000 tokens/s: 30 passes = 900,000 tokens = 15 minutes.
        var advice = TrainingAdvice.For(characters: 100_000, tokens: 30_000, tokensPerSecond: 1_000, chosenMinutes: 1);
        Assert.Equal(15, advice.RecommendedMinutes);
        Assert.True(advice.MinimumMinutes > 1);
        Assert.Contains("too short to learn anything", advice.Warning);
        Assert.Contains("about 15 minutes", advice.Summary);
        Assert.True(advice.TooLittleText);
        Assert.Contains("base model", advice.TooLittleTextAdvice(100_000));
    }

    [Fact]
    public void A_faster_server_recommends_less_time_and_enough_time_has_no_warning()
    {
        var slow = TrainingAdvice.For(5_000_000, 1_500_000, 2_000, chosenMinutes: 240);
        var fast = TrainingAdvice.For(5_000_000, 1_500_000, 20_000, chosenMinutes: 240);
        Assert.True(fast.RecommendedMinutes < slow.RecommendedMinutes);
        Assert.Null(TrainingAdvice.For(5_000_000, 1_500_000, 20_000, chosenMinutes: fast.RecommendedMinutes).Warning);
        // 240 minutes read these 1.5 million tokens 192 times: the run would stop long before.
        Assert.Contains($"after about {fast.RecommendedMinutes} of your 240 minutes", fast.Warning);
        Assert.False(fast.TooLittleText);
        Assert.Null(fast.TooLittleTextAdvice(5_000_000));
    }

    [Fact]
    public void More_time_than_a_short_text_can_use_is_called_so()
    {
        // The tiny size's 16 x 256 tokens a step: a run from scratch plans at least 300 steps (1,228,800 tokens, 2.05
        // minutes at 10,000 tokens/s) and stops there by itself on 30,000 tokens of text.
        var tenMinutes = TrainingAdvice.For(100_000, 30_000, 10_000, chosenMinutes: 10, tokensPerStep: 16 * 256);
        Assert.Equal(3, tenMinutes.RecommendedMinutes);
        Assert.Contains("stop by itself after about 3 of your 10 minutes", tenMinutes.Warning);
        Assert.Contains("the least training that learns anything reads it about 41 times", tenMinutes.Warning);
        Assert.Null(TrainingAdvice.For(100_000, 30_000, 10_000, chosenMinutes: 3, tokensPerStep: 16 * 256).Warning);
        // A base model is fine-tuned for the whole budget: no such limit.
        Assert.Null(TrainingAdvice.For(100_000, 30_000, 10_000, chosenMinutes: 10, fromBaseModel: true, tokensPerStep: 16 * 256).Warning);
    }

    [Fact]
    public void The_recommendation_is_capped()
    {
        Assert.Equal(TrainingAdvice.MaxRecommendedMinutes, TrainingAdvice.For(500_000_000, 150_000_000, 100, 5).RecommendedMinutes);
    }
}

public class VocabularyChoiceTests
{
    [Theory]
    [InlineData(100_000, 1024)]
    [InlineData(1_000_000, 2048)]
    [InlineData(10_000_000, 4096)]
    [InlineData(100_000_000, 8192)]
    public void The_vocabulary_grows_with_the_text(long characters, int expected) =>
        Assert.Equal(expected, TrainingAdvice.VocabularyFor(characters));
}

public class ShortBudgetTests
{
    [Fact]
    public void One_minute_is_too_short_even_on_a_fast_server()
    {
        var advice = TrainingAdvice.For(100_000, 30_000, tokensPerSecond: 1_000_000, chosenMinutes: 1);
        Assert.Contains("too short to learn anything", advice.Warning);
        Assert.Null(TrainingAdvice.For(100_000, 30_000, 1_000_000, chosenMinutes: 2).Warning);
    }
}
