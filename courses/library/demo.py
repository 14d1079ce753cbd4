"""Demo data of the library for `seed_demo`; safe to run again.

About sixty materials from the ten demo schools, contributed through the real services
(so files are inspected, images cleaned and previews made): lecture notes and slides as
small generated PDFs, diagrams and clinical pictures drawn with Pillow, a heart-sound
recording, a short generated VP8/WebM clip, links to public guidelines, and ten
structured teaching cases with investigation images. Scopes and licences vary so that
the access rules show: a Dakar student (no active partnership) sees only public items.
A material is recognised by its title and school, so a second run adds nothing.
"""

from __future__ import annotations

import io
import logging
import math
import struct
import time
import wave
from typing import Any, TextIO

from courses.models import Material
from server.people.models import Institution, User

from .minimal_pdf import pdf_document
from .services import CaseImage, material_create

logger = logging.getLogger(__name__)


def video_bytes(*, seconds: float = 3.0, label: str = "", fps: int = 10) -> bytes:
    """A small VP8/WebM clip (160x120): a red dot crossing a blue field."""
    import av
    from PIL import Image, ImageDraw

    out = io.BytesIO()
    container = av.open(out, "w", format="webm")
    stream = container.add_stream("libvpx", rate=fps)
    stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
    frames = max(1, int(seconds * fps))
    for index in range(frames):
        image = Image.new("RGB", (160, 120), (20, 60, 90))
        draw = ImageDraw.Draw(image)
        x = int(index * 130 / frames)
        draw.ellipse((x, 45, x + 30, 75), fill=(220, 40, 40))
        if label:
            draw.text((6, 6), label[:24], fill=(255, 255, 255))
        for packet in stream.encode(av.VideoFrame.from_image(image)):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return out.getvalue()


def heart_sound_wav(*, seconds: float = 4.0, rate: int = 8000, murmur: bool = False) -> bytes:
    """A synthetic 'lub-dub' at 72/min (and a soft systolic murmur when asked), mono WAV."""
    samples = []
    beat = 60 / 72
    for n in range(int(seconds * rate)):
        t = n / rate
        phase = t % beat
        value = 0.0
        for start, freq in ((0.0, 50.0), (0.30, 70.0)):  # S1, S2
            if start <= phase < start + 0.08:
                local = phase - start
                value += math.sin(2 * math.pi * freq * local) * math.exp(-local * 40)
        if murmur and 0.08 <= phase < 0.30:
            value += 0.15 * math.sin(2 * math.pi * 180 * t) * math.sin(math.pi * (phase - 0.08) / 0.22)
        samples.append(int(max(-1.0, min(1.0, value)) * 20000))
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return out.getvalue()


def picture(kind: str, label: str, *, seed: int = 0) -> bytes:
    """A small clinical-looking picture drawn with Pillow (JPEG), with a caption strip."""
    from PIL import Image, ImageDraw, ImageFilter

    width, height = 480, 320
    if kind == "ecg":
        image = Image.new("RGB", (width, height), (255, 240, 240))
        draw = ImageDraw.Draw(image)
        for x in range(0, width, 16):
            draw.line((x, 0, x, height), fill=(250, 200, 200))
        for grid_y in range(0, height, 16):
            draw.line((0, grid_y, width, grid_y), fill=(250, 200, 200))
        points = []
        for x in range(width):
            beat = (x + seed * 7) % 80
            y: float = 150
            if 10 <= beat < 16:
                y -= 8 * math.sin(math.pi * (beat - 10) / 6)
            if beat == 22:
                y += 12
            if beat == 24:
                y -= 90 if "ST" not in label else 70
            if beat == 26:
                y += 25
            if 34 <= beat < 48:
                y -= (30 if "ST" in label else 14) * math.sin(math.pi * (beat - 34) / 14)
            points.append((x, y))
        draw.line(points, fill=(20, 20, 20), width=2)
    elif kind == "xray":
        image = Image.new("L", (width, height), 15)
        draw = ImageDraw.Draw(image)
        draw.ellipse((90, 40, 230, 290), fill=70)
        draw.ellipse((250, 40, 390, 290), fill=70)
        draw.rectangle((228, 20, 252, 300), fill=170)
        for rib in range(8):
            y = 60 + rib * 28
            draw.arc((80, y - 20, 240, y + 40), 200, 340, fill=150, width=5)
            draw.arc((240, y - 20, 400, y + 40), 200, 340, fill=150, width=5)
        if "consolidation" in label or "TB" in label:
            draw.ellipse((270, 60 + seed % 40, 350, 140 + seed % 40), fill=130)
        if "cardiomegaly" in label:
            draw.ellipse((170, 150, 330, 290), fill=160)
        image = image.filter(ImageFilter.GaussianBlur(3)).convert("RGB")
    elif kind == "skin":
        image = Image.new("RGB", (width, height), (224, 172, 140))
        draw = ImageDraw.Draw(image)
        draw.ellipse((150, 80, 330, 250), outline=(190, 60, 60), width=14)
        draw.ellipse((215, 140, 265, 190), fill=(200, 80, 80))
        image = image.filter(ImageFilter.GaussianBlur(2))
    elif kind == "smear":
        image = Image.new("RGB", (width, height), (245, 225, 235))
        draw = ImageDraw.Draw(image)
        for index in range(40):
            x = (index * 97 + seed * 13) % (width - 40) + 10
            y = (index * 53 + seed * 29) % (height - 60) + 10
            draw.ellipse((x, y, x + 34, y + 34), fill=(225, 150, 170), outline=(200, 120, 150))
            if index % 7 == 0:
                draw.arc((x + 8, y + 8, x + 24, y + 24), 0, 300, fill=(90, 30, 120), width=3)
    else:  # a chart / diagram
        image = Image.new("RGB", (width, height), "white")
        draw = ImageDraw.Draw(image)
        values = [((index * 37 + seed * 11) % 90) + 20 for index in range(8)]
        for index, value in enumerate(values):
            x = 40 + index * 52
            draw.rectangle((x, 270 - value * 2, x + 36, 270), fill=(11, 92, 173))
        draw.line((30, 270, 460, 270), fill="black", width=2)
        draw.line((30, 30, 30, 270), fill="black", width=2)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height - 28, width, height), fill=(0, 0, 0))
    draw.text((8, height - 22), label[:70], fill=(255, 255, 255))
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=80)
    return out.getvalue()


# (school, contributor, kind, title, discipline, topics, level, language, licence, scope, description)
CATALOG: list[tuple[str, str, str, str, str, list[str], str, str, str, str, str]] = [
    ("lagos", "adebayo", "pdf", "Sickle cell disease: crisis management", "Internal medicine", ["sickle cell", "pain crisis", "haematology"], "clinical", "en", "cc-by", "partners", "Lecture notes on acute painful crisis, acute chest syndrome and transfusion thresholds in a Nigerian teaching hospital."),
    ("lagos", "adebayo", "slides", "Neonatal jaundice in primary care", "Paediatrics", ["neonatal jaundice", "phototherapy"], "clinical", "en", "cc-by-sa", "public", "When to refer, when to start phototherapy, and how to use a bilirubin nomogram."),
    ("lagos", "adebayo", "image", "Peripheral smear: sickle cells", "Pathology", ["sickle cell", "blood film"], "preclinical", "en", "cc-by", "public", "Teaching image of a peripheral blood film with sickled erythrocytes."),
    ("lagos", "okafor", "link", "WHO guidelines for malaria", "Infectious diseases", ["malaria", "guidelines"], "clinical", "en", "cc-by-nc-sa", "public", "The WHO consolidated guidelines for malaria."),
    ("lagos", "adebayo", "pdf", "Lassa fever: recognition and isolation", "Infectious diseases", ["Lassa fever", "viral haemorrhagic fever", "infection control"], "clinical", "en", "arr", "school", "Internal protocol for suspected Lassa fever on the wards."),
    ("lagos", "adebayo", "audio", "Heart sounds: normal S1 and S2", "Cardiology", ["auscultation", "heart sounds"], "preclinical", "en", "cc-by", "partners", "A synthetic recording of normal heart sounds at 72 beats per minute."),
    ("heidelberg", "hoffmann", "pdf", "Herzinsuffizienz: Leitlinie kompakt", "Cardiology", ["heart failure", "Herzinsuffizienz", "SGLT2"], "postgraduate", "de", "cc-by-nc", "partners", "Kompakte Zusammenfassung der Therapie der Herzinsuffizienz mit reduzierter Ejektionsfraktion."),
    ("heidelberg", "hoffmann", "slides", "ECG interpretation in ten steps", "Cardiology", ["ECG", "arrhythmia", "ST elevation"], "clinical", "en", "cc-by", "public", "A systematic approach to the 12-lead ECG, with worked examples."),
    ("heidelberg", "hoffmann", "image", "ECG: inferior ST elevation", "Cardiology", ["ECG", "myocardial infarction", "ST elevation"], "clinical", "en", "cc-by-sa", "partners", "Lead II strip with ST elevation."),
    ("heidelberg", "hoffmann", "image", "ECG: normal sinus rhythm", "Cardiology", ["ECG", "sinus rhythm"], "preclinical", "en", "cc-by", "public", "Lead II strip of normal sinus rhythm for comparison."),
    ("heidelberg", "schmidt", "link", "Global Health curriculum (Heidelberg)", "Public health", ["global health", "curriculum"], "preclinical", "en", "arr", "partners", "Overview of the Heidelberg global health track."),
    ("heidelberg", "hoffmann", "pdf", "Antibiotic stewardship on the ward", "Infectious diseases", ["antibiotics", "stewardship", "resistance"], "postgraduate", "en", "cc-by-nd", "partners", "Practical rules for empirical therapy and de-escalation."),
    ("heidelberg", "hoffmann", "video", "Pulse oximetry: how it works", "Physiology", ["pulse oximetry", "oxygen saturation"], "preclinical", "en", "cc-by", "public", "A short animation of light absorption through a finger."),
    ("kamuzu", "kalua", "pdf", "Paediatric HIV: starting ART", "Paediatrics", ["HIV", "antiretroviral therapy", "children"], "clinical", "en", "cc-by", "partners", "Malawi national guidance summarised for clinical officers."),
    ("kamuzu", "kalua", "pdf", "Severe acute malnutrition protocol", "Paediatrics", ["malnutrition", "F-75", "RUTF"], "clinical", "en", "cc-by-sa", "public", "Phases of treatment, feeding and danger signs."),
    ("kamuzu", "kalua", "image", "MUAC tape use (diagram)", "Paediatrics", ["malnutrition", "MUAC"], "preclinical", "en", "public-domain", "public", "Bar chart of MUAC cut-offs by age group."),
    ("kamuzu", "kalua", "slides", "Cryptococcal meningitis in district hospitals", "Infectious diseases", ["cryptococcal meningitis", "HIV", "lumbar puncture"], "postgraduate", "en", "cc-by-nc", "partners", "Diagnosis with CrAg and management of raised pressure."),
    ("knust", "asante", "pdf", "Buruli ulcer: diagnosis and care", "Dermatology", ["Buruli ulcer", "neglected tropical diseases", "wound care"], "clinical", "en", "cc-by", "public", "Clinical stages, PCR confirmation and antibiotic therapy."),
    ("knust", "asante", "image", "Skin lesion: target appearance", "Dermatology", ["erythema multiforme", "skin"], "clinical", "en", "cc-by-nc", "partners", "Teaching photograph (drawn) of a target lesion."),
    ("knust", "mensah", "pdf", "Hypertension in sub-Saharan Africa", "Internal medicine", ["hypertension", "stroke prevention"], "clinical", "en", "cc-by", "partners", "Population data, thresholds and affordable drug choices."),
    ("knust", "asante", "slides", "Snakebite envenoming", "Emergency medicine", ["snakebite", "antivenom", "20-minute whole blood clotting test"], "clinical", "en", "cc-by-sa", "public", "Syndromic approach and antivenom dosing."),
    ("knust", "mensah", "link", "Ghana Standard Treatment Guidelines", "Internal medicine", ["guidelines", "essential medicines"], "clinical", "en", "arr", "partners", "National standard treatment guidelines."),
    ("tokyo", "tanaka", "slides", "Stroke thrombolysis: the first hour", "Neurology", ["stroke", "thrombolysis", "door-to-needle"], "postgraduate", "en", "cc-by", "partners", "Lecture on pathways that cut door-to-needle time."),
    ("tokyo", "tanaka", "pdf", "脳卒中の初期評価 (Initial stroke assessment)", "Neurology", ["stroke", "NIHSS"], "clinical", "ja", "cc-by-nc-nd", "partners", "NIHSS and imaging decisions."),
    ("tokyo", "yamamoto", "pdf", "Gastric cancer screening in Japan", "Public health", ["gastric cancer", "endoscopy", "screening"], "postgraduate", "en", "cc-by", "public", "What thirty years of screening taught us."),
    ("tokyo", "yamamoto", "image", "Chest X-ray: cardiomegaly", "Radiology", ["chest X-ray", "cardiomegaly", "heart failure"], "clinical", "en", "cc-by", "partners", "PA film with an enlarged cardiac silhouette."),
    ("tokyo", "tanaka", "audio", "Heart sounds: systolic murmur", "Cardiology", ["auscultation", "murmur", "aortic stenosis"], "clinical", "en", "cc-by", "public", "Synthetic ejection systolic murmur between S1 and S2."),
    ("tokyo", "kobayashi", "link", "Disaster medicine resources", "Emergency medicine", ["disaster medicine", "triage"], "postgraduate", "en", "cc-by", "partners", "Collected resources on mass-casualty triage."),
    ("aiims", "rao", "pdf", "Tuberculosis: diagnosis with CBNAAT", "Infectious diseases", ["tuberculosis", "GeneXpert", "drug resistance"], "clinical", "en", "cc-by", "partners", "Molecular testing, rifampicin resistance and the national programme."),
    ("aiims", "rao", "image", "Chest X-ray: upper lobe TB", "Radiology", ["tuberculosis", "chest X-ray", "cavitation"], "clinical", "en", "cc-by", "public", "Right upper lobe consolidation with cavitation."),
    ("aiims", "rao", "slides", "Snake, scorpion and dog bites in India", "Emergency medicine", ["snakebite", "rabies", "scorpion sting"], "clinical", "en", "cc-by-sa", "partners", "Common bites and stings in rural practice."),
    ("aiims", "gupta", "pdf", "Dengue: fluid management", "Infectious diseases", ["dengue", "fluids", "warning signs"], "clinical", "en", "cc-by-nc", "public", "Critical phase recognition and fluid charts."),
    ("aiims", "rao", "pdf", "Organophosphate poisoning", "Emergency medicine", ["poisoning", "atropine", "toxicology"], "clinical", "en", "cc-by", "school", "Departmental protocol: atropinisation targets."),
    ("usp", "oliveira", "pdf", "Doença de Chagas: visão clínica", "Infectious diseases", ["Chagas disease", "cardiomyopathy", "Trypanosoma cruzi"], "clinical", "pt", "cc-by", "partners", "Fases aguda e crônica, cardiopatia chagásica e tratamento."),
    ("usp", "oliveira", "slides", "Febre amarela: manejo", "Infectious diseases", ["yellow fever", "vaccination"], "clinical", "pt", "cc-by-sa", "public", "Vigilância, formas graves e vacinação."),
    ("usp", "oliveira", "image", "Blood smear: malaria parasites", "Pathology", ["malaria", "blood film", "Plasmodium"], "preclinical", "en", "cc-by", "public", "Thin film with ring forms."),
    ("usp", "pereira", "link", "Brazilian Unified Health System (SUS) overview", "Public health", ["health systems", "primary care"], "preclinical", "pt", "arr", "partners", "Visão geral do SUS."),
    ("usp", "oliveira", "pdf", "Leptospirosis after floods", "Infectious diseases", ["leptospirosis", "Weil disease"], "clinical", "en", "cc-by", "partners", "Recognising Weil disease early."),
    ("kcl", "clarke", "slides", "Sepsis: the first hour bundle", "Emergency medicine", ["sepsis", "lactate", "antibiotics"], "clinical", "en", "cc-by", "public", "Recognition, the bundle, and escalation."),
    ("kcl", "clarke", "pdf", "Diabetic ketoacidosis management", "Internal medicine", ["diabetic ketoacidosis", "insulin", "fluids"], "clinical", "en", "cc-by-nc-sa", "partners", "Fixed-rate insulin, fluids and potassium."),
    ("kcl", "clarke", "image", "Glucose and ketone trends in DKA", "Internal medicine", ["diabetic ketoacidosis", "monitoring"], "clinical", "en", "cc-by", "partners", "Chart of hourly measurements during treatment."),
    ("kcl", "wright", "link", "NICE guidance: hypertension in adults", "Internal medicine", ["hypertension", "guidelines"], "clinical", "en", "arr", "public", "NICE guideline NG136."),
    ("kcl", "mensah", "pdf", "Clinical supervision at a distance", "Medical education", ["supervision", "telemedicine", "feedback"], "postgraduate", "en", "cc-by", "public", "How to supervise a consult remotely and sign off notes."),
    ("dakar", "sow", "pdf", "Paludisme grave de l'enfant", "Paediatrics", ["malaria", "artesunate", "children"], "clinical", "fr", "cc-by", "public", "Reconnaissance des signes de gravité et artésunate injectable."),
    ("dakar", "sow", "slides", "Méningite bactérienne en saison sèche", "Infectious diseases", ["meningitis", "meningitis belt"], "clinical", "fr", "cc-by-sa", "partners", "Épidémiologie de la ceinture de la méningite et traitement présomptif."),
    ("dakar", "sow", "pdf", "Examens du cours de sémiologie", "Internal medicine", ["semiology", "examination"], "preclinical", "fr", "arr", "school", "Sujets d'examen internes."),
    ("dakar", "fall", "link", "Ressources de santé publique en Afrique de l'Ouest", "Public health", ["West Africa", "public health"], "preclinical", "fr", "cc-by", "public", "Liens utiles pour les étudiants."),
    ("maputo", "tembe", "pdf", "Cólera: reidratação", "Infectious diseases", ["cholera", "rehydration", "outbreak"], "clinical", "pt", "cc-by", "partners", "Plano de reidratação e controlo de surtos."),
    ("maputo", "tembe", "image", "Rehydration volumes by weight", "Infectious diseases", ["cholera", "dehydration"], "clinical", "en", "cc-by", "public", "Chart of ORS and IV volumes."),
    ("maputo", "tembe", "slides", "Obstetric haemorrhage: the golden hour", "Obstetrics and gynaecology", ["postpartum haemorrhage", "oxytocin", "tranexamic acid"], "clinical", "en", "cc-by", "partners", "Team drill and drugs for postpartum haemorrhage."),
    ("maputo", "sitoe", "link", "WHO recommendations on maternal health", "Obstetrics and gynaecology", ["maternal health", "guidelines"], "clinical", "en", "cc-by-nc-sa", "public", "WHO recommendations."),
    ("lagos", "adebayo", "slides", "Eclampsia and magnesium sulphate", "Obstetrics and gynaecology", ["eclampsia", "magnesium sulphate"], "clinical", "en", "cc-by", "partners", "Loading and maintenance doses, toxicity monitoring."),
]

PICTURES = {
    "Peripheral smear: sickle cells": ("smear", 1),
    "ECG: inferior ST elevation": ("ecg", 2),
    "ECG: normal sinus rhythm": ("ecg", 0),
    "MUAC tape use (diagram)": ("chart", 3),
    "Skin lesion: target appearance": ("skin", 1),
    "Chest X-ray: cardiomegaly": ("xray", 4),
    "Chest X-ray: upper lobe TB": ("xray", 5),
    "Blood smear: malaria parasites": ("smear", 6),
    "Glucose and ketone trends in DKA": ("chart", 7),
    "Rehydration volumes by weight": ("chart", 8),
}
LINKS = {
    "WHO guidelines for malaria": "https://www.who.int/publications/i/item/guidelines-for-malaria",
    "Global Health curriculum (Heidelberg)": "https://www.klinikum.uni-heidelberg.de/",
    "Ghana Standard Treatment Guidelines": "https://www.moh.gov.gh/",
    "Disaster medicine resources": "https://www.who.int/health-topics/emergencies",
    "Brazilian Unified Health System (SUS) overview": "https://www.gov.br/saude/",
    "NICE guidance: hypertension in adults": "https://www.nice.org.uk/guidance/ng136",
    "Ressources de santé publique en Afrique de l'Ouest": "https://www.wahooas.org/",
    "WHO recommendations on maternal health": "https://www.who.int/publications/i/item/9789241511087",
}

# (school, contributor, title, discipline, level, language, licence, scope, case, images[(kind, caption)])
CASES: list[tuple[str, str, str, str, str, str, str, str, dict[str, Any], list[tuple[str, str]]]] = [
    ("knust", "mensah", "Fever and jaundice in a rice farmer", "Infectious diseases", "clinical", "en", "cc-by", "public",
     {"history": "A 34-year-old rice farmer presents with five days of fever, myalgia (especially calves) and dark urine, two weeks after floods.",
      "examination": "Temperature 39.2 °C, icteric, conjunctival suffusion, tender calves, BP 96/60.",
      "investigations": "Bilirubin 98 µmol/L, creatinine 310 µmol/L, platelets 62 ×10⁹/L, malaria RDT negative.",
      "question": "What is the most likely diagnosis, and what would you start today?",
      "discussion": "Severe leptospirosis (Weil disease): start IV penicillin or ceftriaxone early, watch renal function and bleeding.",
      "learning_points": ["Ask about flood water and animal exposure", "Conjunctival suffusion is a clue", "Treat before serology returns"]},
     [("chart", "Creatinine trend over 72 hours")]),
    ("heidelberg", "hoffmann", "Chest pain on the night shift", "Cardiology", "clinical", "en", "cc-by-sa", "partners",
     {"history": "A 58-year-old smoker has 40 minutes of crushing central chest pain radiating to the jaw.",
      "examination": "Sweaty, pulse 52, BP 100/70, clear chest.",
      "investigations": "12-lead ECG below; troponin pending.",
      "question": "Which territory is affected, and what is the next step?",
      "discussion": "Inferior STEMI with bradycardia: right-sided leads, primary PCI, caution with nitrates.",
      "learning_points": ["Look for right ventricular involvement", "Time is muscle: activate the cath lab"]},
     [("ecg", "Lead II: ST elevation")]),
    ("aiims", "rao", "Cough for six weeks in a young tailor", "Infectious diseases", "clinical", "en", "cc-by", "partners",
     {"history": "A 24-year-old tailor with six weeks of productive cough, evening fevers and 5 kg weight loss.",
      "examination": "Thin, bronchial breathing right apex.",
      "investigations": "Chest X-ray below; sputum CBNAAT: MTB detected, rifampicin resistance not detected.",
      "question": "How would you treat and whom would you screen?",
      "discussion": "Drug-sensitive pulmonary TB: 2HRZE/4HR, contact screening and preventive therapy for household contacts.",
      "learning_points": ["Use molecular tests first", "Screen household contacts", "Support adherence"]},
     [("xray", "Right upper lobe consolidation (TB)")]),
    ("kamuzu", "kalua", "A wasted toddler with oedema", "Paediatrics", "clinical", "en", "cc-by-sa", "public",
     {"history": "An 18-month-old with two weeks of diarrhoea and swelling of both feet; weaned early.",
      "examination": "Bilateral pitting oedema, MUAC 11.0 cm, flaky paint dermatosis, alert.",
      "investigations": "Glucose 3.1 mmol/L, Hb 8.2 g/dL.",
      "question": "Which phase of treatment does this child need first?",
      "discussion": "Complicated severe acute malnutrition: stabilisation with F-75, antibiotics, careful fluids; RUTF later.",
      "learning_points": ["Oedema means severe malnutrition whatever the weight", "Avoid fluid overload"]},
     [("chart", "MUAC and weight over four weeks")]),
    ("tokyo", "tanaka", "Sudden weakness at breakfast", "Neurology", "postgraduate", "en", "cc-by", "partners",
     {"history": "A 71-year-old woman dropped her chopsticks at 07:40; right arm and face weak, speech slurred.",
      "examination": "NIHSS 9, BP 168/92, glucose 6.2 mmol/L.",
      "investigations": "CT without haemorrhage; CT angiography: left M1 occlusion.",
      "question": "What treatment and in what time window?",
      "discussion": "IV thrombolysis within 4.5 h and mechanical thrombectomy for large-vessel occlusion.",
      "learning_points": ["Last known well sets the clock", "Image the vessels, not only the brain"]},
     [("chart", "Door-to-needle timeline")]),
    ("usp", "oliveira", "Palpitations in a man from rural Bahia", "Cardiology", "clinical", "pt", "cc-by", "public",
     {"history": "Homem de 49 anos com palpitações e dispneia aos esforços; infância em casa de taipa.",
      "examination": "Ritmo irregular, sopro sistólico mitral, edema de membros inferiores.",
      "investigations": "ECG com bloqueio de ramo direito e hemibloqueio anterior esquerdo; sorologia para T. cruzi positiva.",
      "question": "Qual é o diagnóstico provável e como estratificar o risco?",
      "discussion": "Cardiopatia chagásica crônica: ecocardiograma, Holter, escore de Rassi.",
      "learning_points": ["Pergunte sobre a moradia na infância", "BRD + HBAE sugere Chagas"]},
     [("ecg", "ECG: conduction abnormalities")]),
    ("kcl", "clarke", "Confused, breathless and hot", "Emergency medicine", "clinical", "en", "cc-by-nc", "partners",
     {"history": "A 77-year-old care-home resident is newly confused with a cough for two days.",
      "examination": "RR 28, SpO2 89% on air, BP 88/50, HR 118, temperature 38.9 °C.",
      "investigations": "Lactate 4.6 mmol/L; chest X-ray below.",
      "question": "What do you do in the first hour?",
      "discussion": "Septic shock from pneumonia: oxygen, cultures, antibiotics within the hour, fluids, lactate, escalate.",
      "learning_points": ["NEWS2 ≥ 7 needs senior review", "Give antibiotics within an hour"]},
     [("xray", "Left lower zone consolidation")]),
    ("dakar", "sow", "Convulsions fébriles chez un enfant de 4 ans", "Paediatrics", "clinical", "fr", "cc-by", "public",
     {"history": "Enfant de 4 ans, fièvre depuis 3 jours, deux convulsions ce matin, saison des pluies.",
      "examination": "Somnolent, Blantyre 3, pâleur, splénomégalie.",
      "investigations": "TDR paludisme positif, glycémie 2,4 mmol/L, Hb 5,8 g/dL.",
      "question": "Quels sont les signes de gravité et le traitement immédiat ?",
      "discussion": "Paludisme grave : artésunate IV, correction de l'hypoglycémie, transfusion si nécessaire.",
      "learning_points": ["Toujours vérifier la glycémie", "L'artésunate est le traitement de choix"]},
     [("smear", "Frottis : formes en anneau")]),
    ("maputo", "tembe", "Bleeding after a home birth", "Obstetrics and gynaecology", "clinical", "en", "cc-by", "partners",
     {"history": "A 29-year-old para 4 arrives 2 hours after a home delivery with heavy bleeding.",
      "examination": "Pale, HR 128, BP 84/50, boggy uterus above the umbilicus.",
      "investigations": "Hb 6.9 g/dL (point of care).",
      "question": "What are the first five actions?",
      "discussion": "Call for help, uterine massage, oxytocin, tranexamic acid, IV fluids and blood; consider the four Ts.",
      "learning_points": ["Tone is the commonest cause", "Give tranexamic acid within three hours"]},
     [("chart", "Estimated blood loss over time")]),
    ("lagos", "adebayo", "Painful swelling of the hands in a child", "Internal medicine", "preclinical", "en", "arr", "school",
     {"history": "A 14-month-old with painful swollen hands and feet for two days, irritable, no trauma.",
      "examination": "Tender dactylitis of both hands, mild pallor, afebrile.",
      "investigations": "Hb 7.8 g/dL; blood film below; haemoglobin electrophoresis HbSS.",
      "question": "What is the diagnosis and what should parents be taught?",
      "discussion": "Hand–foot syndrome of sickle cell disease: analgesia, fluids, penicillin prophylaxis, fever plan.",
      "learning_points": ["Dactylitis may be the first sign of sickle cell disease", "Start penicillin prophylaxis"]},
     [("smear", "Blood film: sickled cells")]),
]


def _pdf_for(title: str, description: str, topics: list[str], slides: bool) -> bytes:
    paragraphs = [description] + [
        f"{topic.capitalize()}: key facts, common pitfalls and what to do first." for topic in topics
    ]
    if slides:
        paragraphs.append("Slide notes: one idea per slide; questions at the end.")
    return pdf_document(title, paragraphs, subtitle="OpenRounds demo material", pages=2 if slides else 1)


def seed(stdout: TextIO) -> None:
    """Create the demo materials that are missing (matched by title and school)."""
    started = time.monotonic()
    by_key = _schools_by_key()
    users = {user.username: user for user in User.objects.filter(memberships__isnull=False).distinct()}
    existing = set(Material.objects.values_list("title", "institution_id"))
    created = 0
    video = None
    for school_key, username, kind, title, discipline, topics, level, language, licence, scope, description in CATALOG:
        school = by_key.get(school_key)
        user = users.get(username)
        if school is None or user is None or (title, school.pk) in existing:
            continue
        upload = name = None
        url = ""
        if kind in ("pdf", "slides"):
            upload, name = io.BytesIO(_pdf_for(title, description, topics, kind == "slides")), "notes.pdf"
        elif kind == "image":
            picture_kind, seed_value = PICTURES.get(title, ("chart", 0))
            upload, name = io.BytesIO(picture(picture_kind, title, seed=seed_value)), "picture.jpg"
        elif kind == "audio":
            upload, name = io.BytesIO(heart_sound_wav(murmur="murmur" in title)), "heart-sounds.wav"
        elif kind == "video":
            video = video or video_bytes(seconds=3.0, label="SpO2")
            upload, name = io.BytesIO(video), "pulse-oximetry.webm"
        elif kind == "link":
            url = LINKS.get(title, "https://www.who.int/")
        material_create(
            user=user, kind=kind, title=title, discipline=discipline, topics=topics, level=level,
            language=language, licence=licence, scope=scope, description=description,
            authors=user.name, url=url, upload=upload, upload_name=name or "", institution=school,
        )
        created += 1
    for school_key, username, title, discipline, level, language, licence, scope, case, images in CASES:
        school = by_key.get(school_key)
        user = users.get(username)
        if school is None or user is None or (title, school.pk) in existing:
            continue
        case_images = [
            CaseImage(file=io.BytesIO(picture(kind, caption, seed=index)), caption=caption, name=f"{kind}.jpg")
            for index, (kind, caption) in enumerate(images)
        ]
        material_create(
            user=user, kind="case", title=title, discipline=discipline, level=level, language=language,
            licence=licence, scope=scope, case=case, case_images=case_images, institution=school,
            description=case["history"][:200], authors=user.name,
            topics=[discipline.lower()], competencies=["clinical reasoning"],
        )
        created += 1
    stdout.write(f"  library: {created} materials added ({Material.objects.count()} in all) in {time.monotonic() - started:.1f} s\n")


def _schools_by_key() -> dict[str, Institution]:
    """The demo schools by the keys server/people/demo.py uses."""
    from server.people.demo import SCHOOLS

    names = {seed.key: seed.name for seed in SCHOOLS}
    found = {school.name: school for school in Institution.objects.filter(name__in=names.values())}
    return {key: found[name] for key, name in names.items() if name in found}
