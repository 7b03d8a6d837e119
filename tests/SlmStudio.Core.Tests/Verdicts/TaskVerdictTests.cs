using SlmStudio.Core.Verdicts;

namespace SlmStudio.Core.Tests.Verdicts;

/// <summary>Verdicts of "Sort and route" and "Answer questions" versions, from their own measurements.</summary>
public class TaskVerdictTests
{
    [Fact]
    public void A_classifier_no_better_than_the_keyword_model_is_not_useful_yet()
    {
        var verdict = ModelVerdict.ForClassifier(new(Accuracy: 0.71, BaselineAccuracy: 0.74, GoalTestsPassed: 3, GoalTests: 4, TrainExamples: 180));
        Assert.Equal(VerdictLevel.NotUsefulYet, verdict.Level);
        Assert.Contains("no better than the simple keyword model (74%)", verdict.Why);
        Assert.Contains("180", verdict.NextStep);
        Assert.False(verdict.FitForProduction);
    }

    [Fact]
    public void A_classifier_that_beats_the_keywords_is_good_only_when_accurate_and_passing_its_goal_tests()
    {
        var good = ModelVerdict.ForClassifier(new(0.91, 0.74, 4, 4, 900));
        Assert.Equal(VerdictLevel.Good, good.Level);
        Assert.Contains("91%", good.Why);
        Assert.Contains("4 of 4", good.Why);

        var drafts = ModelVerdict.ForClassifier(new(0.80, 0.74, 4, 4, 900));
        Assert.Equal(VerdictLevel.UsableForDrafts, drafts.Level);
        Assert.Contains("have a person confirm", drafts.Why);

        var failing = ModelVerdict.ForClassifier(new(0.95, 0.74, 1, 4, 900));
        Assert.Equal(VerdictLevel.NotUsefulYet, failing.Level);
        Assert.Contains("1 of 4", failing.Why);

        Assert.Equal(VerdictLevel.Good, ModelVerdict.ForClassifier(new(0.91, 0.74, 0, 0, 900)).Level);
    }
}
