// notes.mjs — synthetic clinical notes for the demo. Every name, date, number and address is invented.

export const notes = [
  {
    id: 'cardiology',
    title: 'Cardiology follow-up',
    patient: 'MRN-4471902',
    text: `Cardiology follow-up, 03/14/2025.
Patient: Margaret Okafor, DOB 07/22/1958, MRN 4471902.
Address: 1187 Larkspur Lane, Dayton, OH 45419. Phone (937) 555-0143.
Mrs. Okafor reports exertional chest tightness after two flights of stairs, relieved by rest within 5 minutes.
No syncope. BP 148/86, HR 72 regular. ECG: sinus rhythm, no acute ST changes.
Plan: exercise stress test, start atorvastatin 40 mg nightly, follow up with Dr. Haruki Tanabe in 4 weeks.`,
  },
  {
    id: 'discharge',
    title: 'Discharge summary — pneumonia',
    patient: 'MRN-8820315',
    text: `DISCHARGE SUMMARY
Name: Tomasz Wierzbicki   MRN: 8820315   Admitted: 02/03/2025   Discharged: 02/08/2025
Attending: Dr. Leila Haddad
Mr. Wierzbicki, a 71-year-old man, was admitted with right lower lobe pneumonia (CURB-65 of 2).
Treated with ceftriaxone and azithromycin, then oral amoxicillin-clavulanate. Afebrile since 02/06/2025.
Discharged home to 42 Orchard Street, Apt 3B, Burlington, VT 05401, with his daughter Anna Wierzbicki (phone 802-555-0199).
Follow-up chest X-ray in 6 weeks.`,
  },
  {
    id: 'pediatrics',
    title: 'Pediatric asthma visit',
    patient: 'MRN-3305567',
    text: `Pediatrics clinic note — 11/02/2024
Patient: Sofia Delgado-Reyes (DOB 05/30/2016), MRN 3305567. Accompanied by her mother, Lucia Reyes.
Three nighttime cough episodes per week since October; uses albuterol 2-3 times weekly.
Lungs with scattered end-expiratory wheeze, SpO2 97% on room air.
Step up to low-dose inhaled fluticasone. Asthma action plan reviewed.
Mother can be reached at 619-555-0172 or lucia.reyes@example.com. Return in 6 weeks.`,
  },
  {
    id: 'ed',
    title: 'Emergency department note',
    patient: 'MRN-9014428',
    text: `ED NOTE 01/19/2025 23:40
Pt: Darnell Whitaker, 45 y/o M, MRN 9014428, lives at 930 Beacon Hill Road, Tacoma, WA 98406.
Presents with sudden-onset left flank pain radiating to the groin, nausea, no fever.
UA: microscopic hematuria. CT KUB: 5 mm obstructing stone at left UVJ, mild hydronephrosis.
Ketorolac 15 mg IV and ondansetron given with relief. Tamsulosin 0.4 mg daily, strain urine.
Urology (Dr. Priya Raman) follow-up on 01/24/2025. Contact: 253-555-0118.`,
  },
  {
    id: 'oncology',
    title: 'Oncology progress note',
    patient: 'MRN-5562091',
    text: `Oncology progress note, 09/09/2024
Patient Eleanor Vasquez-Holt, DOB 12/01/1949, MRN 5562091, SSN 078-05-1120 on file.
Cycle 4 of adjuvant capecitabine for stage III colon adenocarcinoma. Grade 1 hand-foot syndrome, no diarrhea.
ANC 2.1, platelets 188. CEA 2.4 (down from 6.8 on 04/15/2024).
Continue at current dose; urea cream twice daily. Husband Gerald Holt drives her to visits from 15 Willow Court, Asheville, NC 28803.
Next visit 09/30/2024 with Dr. Samuel Osei.`,
  },
  {
    id: 'psychiatry',
    title: 'Psychiatry medication review',
    patient: 'MRN-7123840',
    text: `Psychiatry medication review — 10/28/2024
Client: Ingrid Halvorsen, MRN 7123840, phone (612) 555-0164.
Major depressive disorder, recurrent, improving on sertraline 100 mg for 8 weeks. PHQ-9 down from 19 to 9.
Sleep improved, appetite stable, no suicidal ideation; safety plan reviewed.
Works as a teacher in Minneapolis; lives with partner Jonas Berg at 2210 Cedar Avenue South, Minneapolis, MN 55404.
Continue sertraline, therapy weekly with Dr. Amara Nwosu, recheck on 12/09/2024.`,
  },
];
