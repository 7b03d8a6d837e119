using Bunit;
using MudBlazor.Services;
using SlmStudio.Core.Data;
using SlmStudio.Web.Components.Pages.Chat;
using SlmStudio.Web.Components.Pages.Projects;
using SlmStudio.Web.Data;

namespace SlmStudio.Web.Tests;

/// <summary>"Answer questions" in the data step: the optional context column, whole-conversation files, plain words.</summary>
public sealed class ChatColumnMappingTests : BunitContext
{
    public ChatColumnMappingTests()
    {
        JSInterop.Mode = JSRuntimeMode.Loose;
        Services.AddMudServices();
    }

    [Fact]
    public void The_context_column_can_be_chosen_and_is_part_of_the_mapping()
    {
        var preview = new TabularPreview("faq.csv", ["q", "a", "product"], [["Price?", "12 pounds.", "Stapler"]], "q", ColumnMapping.QuestionAnswer("q", "a"), []);
        ColumnMapping? applied = null;
        var cut = Render<ColumnMappingEditor>(p => p.Add(x => x.Preview, preview).Add(x => x.FileId, 4).Add(x => x.UseCase, UseCase.AnswerQuestions).Add(x => x.OnApply, m => applied = m));

        Assert.True(string.IsNullOrEmpty(cut.Find("#mapping-system-4").GetAttribute("value"))); // optional: none until chosen
        cut.Find("#mapping-system-4").Change("product");
        cut.Find("#mapping-apply-4").Click();
        Assert.Equal(ColumnMapping.QuestionAnswer("q", "a", "product"), applied);
        Assert.Equal("prompt=q,response=a,system=product", applied!.ToString());

        // Reopened with that mapping, the choice is shown again.
        var again = Render<ColumnMappingEditor>(p => p.Add(x => x.Preview, preview).Add(x => x.FileId, 5).Add(x => x.UseCase, UseCase.AnswerQuestions).Add(x => x.Current, applied.ToString()));
        Assert.Equal("product", again.Find("#mapping-system-5").GetAttribute("value"));

        Assert.NotNull(ColumnMappingEditor.BuildPairs(["q", "a"], "q", "a", "q").Error);
        Assert.NotNull(ColumnMappingEditor.BuildPairs(["q", "a"], "q", "a", "missing").Error);
        Assert.Equal(ColumnMapping.QuestionAnswer("q", "a"), ColumnMappingEditor.BuildPairs(["q", "a"], "q", "a", "").Mapping);
    }

    [Fact]
    public void A_file_of_whole_conversations_needs_no_columns()
    {
        var preview = new TabularPreview("chats.jsonl", ["messages"], [["[{\"role\":\"user\",\"content\":\"Hi\"}]"]], null, ColumnMapping.Conversations("messages"), []);
        ColumnMapping? applied = null;
        var cut = Render<ColumnMappingEditor>(p => p.Add(x => x.Preview, preview).Add(x => x.FileId, 2).Add(x => x.UseCase, UseCase.AnswerQuestions).Add(x => x.OnApply, m => applied = m));

        Assert.Contains("whole conversation", cut.Find("#mapping-conversations-2").TextContent);
        Assert.Empty(cut.FindAll("#mapping-question-2"));
        cut.Find("#mapping-apply-2").Click();
        Assert.Equal(ColumnMapping.Conversations("messages"), applied);
    }

    [Fact]
    public void The_file_list_names_pair_columns_in_plain_words()
    {
        Assert.Equal("questions from \u201cquestion\u201d, answers from \u201canswer\u201d", ColumnMappingEditor.InWords("prompt=question,response=answer"));
        Assert.Equal("questions from \u201cq\u201d, answers from \u201ca\u201d, context from \u201cproduct\u201d", ColumnMappingEditor.InWords("prompt=q,response=a,system=product"));
        Assert.Equal("whole conversations, one per line", ColumnMappingEditor.InWords("messages=messages"));
        Assert.DoesNotContain("prompt=", ColumnMappingEditor.InWords("prompt=question,response=answer"));
    }

    [Fact]
    public void A_chat_run_sample_shows_question_and_answer_without_template_tokens()
    {
        var cut = Render<ChatSampleView>(p => p.Add(x => x.Text, "<|im_start|>user\nWhen is billing open?<|im_end|>\n<|im_start|>assistant\nMonday to Friday.<|im_end|>"));
        Assert.Equal("When is billing open?", cut.Find(".chat-sample-question").TextContent);
        Assert.Equal("Monday to Friday.", cut.Find(".chat-sample-answer").TextContent);
        Assert.Contains("→", cut.Markup);
        Assert.DoesNotContain("im_start", cut.Markup);
        Assert.DoesNotContain("&lt;|", cut.Markup);
    }
}
